# shellcheck shell=bash
# Host preparation shared by scripts/demo and scripts/test: every step is
# idempotent, so both commands work on a fresh Debian machine and stay quick
# on a prepared one.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE_DIR=${SELFHOSTED_PREFECT_CACHE:-$REPO_ROOT/.cache}
VENV=$CACHE_DIR/venv
PREFECT_VENV=$CACHE_DIR/prefect-venv
PREFECT_TEST_VERSION=${PREFECT_TEST_VERSION:-3.8.8}
HOST_CA_BUNDLE=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
IMAGE_REPO=selfhosted-prefect/debian
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { printf '\n==> %s\n' "$*"; }

# pip warns about every local find-links location a host's pip.conf names
# but lacks; keep the real errors only.
quiet_pip() { "$@" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2); }

ensure_apt_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The hosts have no systemd, so dockerd is started by hand when it is not up.
ensure_docker() {
  command -v dockerd >/dev/null 2>&1 || ensure_apt_packages docker.io
  if ! docker info >/dev/null 2>&1; then
    log "starting dockerd"
    nohup dockerd >/var/log/dockerd.log 2>&1 &
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { tail -20 /var/log/dockerd.log; return 1; }
  fi
}

ensure_venv() {
  local stamp=$VENV/.requirements.sha
  local want
  want=$(sha256sum "$REPO_ROOT/requirements-dev.txt" | cut -d' ' -f1)
  if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "creating the tools venv in $VENV"
    python3 -m venv "$VENV"
    quiet_pip "$VENV/bin/pip" install -q --upgrade pip
    quiet_pip "$VENV/bin/pip" install -q -r "$REPO_ROOT/requirements-dev.txt"
    echo "$want" >"$stamp"
  fi
  # Make this checkout importable as selfhosted.prefect for ansible-playbook.
  mkdir -p "$CACHE_DIR/collections/ansible_collections/selfhosted"
  ln -sfn "$REPO_ROOT" "$CACHE_DIR/collections/ansible_collections/selfhosted/prefect"
  export PATH="$VENV/bin:$PATH"
  export ANSIBLE_COLLECTIONS_PATH="$CACHE_DIR/collections:$VENV/lib/python3.11/site-packages"
  # Where .config/molecule/config.yml finds Mitogen's strategy plugins.
  export SELFHOSTED_PREFECT_MITOGEN="$VENV/lib/python3.11/site-packages/ansible_mitogen"
}

# The real Prefect CLI with the integrations the roles install, for
# integration tests, the settings catalogue and the benchmark.
ensure_prefect_venv() {
  local constraints=$REPO_ROOT/roles/prefect_venv/files/constraints/prefect-$PREFECT_TEST_VERSION.txt
  local want
  want=$(sha256sum "$constraints" | cut -d' ' -f1)
  if [ "$(cat "$PREFECT_VENV/.constraints" 2>/dev/null)" != "$want" ]; then
    log "installing prefect==$PREFECT_TEST_VERSION and prefect-redis into $PREFECT_VENV"
    rm -rf "$PREFECT_VENV" && python3 -m venv "$PREFECT_VENV"
    quiet_pip "$PREFECT_VENV/bin/pip" install -q -c "$constraints" "prefect==$PREFECT_TEST_VERSION" prefect-redis
    echo "$want" >"$PREFECT_VENV/.constraints"
  fi
  export PREFECT_BIN="$PREFECT_VENV/bin/prefect"
}

# Wheels of the pinned Prefect and prefect-redis for the Pythons of the test
# images, downloaded once: the containers mount them and install offline
# (prefect_venv_wheel_dir), as an on-prem site without an index does, and
# nothing is downloaded per container. pip evaluates environment markers
# (python_version >= "3.13", python_full_version < "3.11.3") with the Python it
# runs on, whatever --python-version says, so each image's own Python
# downloads its wheels, in a throwaway container. The upgrade scenario's older
# release is added for the Debian 12 image it runs on; with the constraints
# pip picks each release's own versions from the one directory.
PREFECT_UPGRADE_FROM_VERSION=3.6.29
WHEELHOUSE=$CACHE_DIR/wheels/prefect-$PREFECT_TEST_VERSION
ensure_wheelhouse() {
  ensure_images  # each image's own Python downloads its wheels
  local constraints_dir=$REPO_ROOT/roles/prefect_venv/files/constraints
  local constraints=$constraints_dir/prefect-$PREFECT_TEST_VERSION.txt
  local older=$constraints_dir/prefect-$PREFECT_UPGRADE_FROM_VERSION.txt
  local want version
  want="$(cat "$constraints" "$older" | sha256sum | cut -d' ' -f1) images $IMAGE_RECIPE"
  if [ "$(cat "$WHEELHOUSE/.complete" 2>/dev/null)" != "$want" ]; then
    log "downloading the wheels of prefect==$PREFECT_TEST_VERSION and $PREFECT_UPGRADE_FROM_VERSION into $WHEELHOUSE"
    # Emptied, not replaced: running containers mount this very directory.
    mkdir -p "$WHEELHOUSE" && find "$WHEELHOUSE" -mindepth 1 -delete
    for version in 12 13; do
      docker run --rm -v "$WHEELHOUSE:/wheels" -v "$constraints_dir:/constraints:ro" \
        -v "$HOST_CA_BUNDLE:/ca-bundle.pem:ro" "$IMAGE_REPO:$version" sh -ec "
          DEBIAN_FRONTEND=noninteractive apt-get install -qq -y python3-pip >/dev/null
          python3 -m pip download -q --cert /ca-bundle.pem -d /wheels \
            -c /constraints/prefect-$PREFECT_TEST_VERSION.txt prefect==$PREFECT_TEST_VERSION prefect-redis
          if [ $version = 12 ]; then
            python3 -m pip download -q --cert /ca-bundle.pem -d /wheels \
              -c /constraints/prefect-$PREFECT_UPGRADE_FROM_VERSION.txt prefect==$PREFECT_UPGRADE_FROM_VERSION
          fi"
    done
    # Checked, not assumed: a caller's `a && b` turns errexit off in here.
    ls "$WHEELHOUSE"/prefect-"$PREFECT_TEST_VERSION"-*.whl "$WHEELHOUSE"/prefect-"$PREFECT_UPGRADE_FROM_VERSION"-*.whl \
      >/dev/null || { echo "the wheelhouse $WHEELHOUSE lacks Prefect's wheels" >&2; return 1; }
    echo "$want" >"$WHEELHOUSE/.complete"
  fi
  export SELFHOSTED_PREFECT_WHEELHOUSE=$WHEELHOUSE
}

# promtool for the alert rules' tests, unpacked from Debian's package and
# not installed: Debian 12's prometheus package, which holds it, would start
# a Prometheus on this host (Debian 13 ships it alone, as promtool).
ensure_promtool() {
  PROMTOOL=$CACHE_DIR/promtool/usr/bin/promtool
  [ -x "$PROMTOOL" ] && return 0
  log "unpacking promtool from Debian's package"
  local tmp get='apt-get download -qq promtool 2>/dev/null || apt-get download -qq prometheus'
  tmp=$(mktemp -d)
  (cd "$tmp" && eval "$get") || { apt-get update -qq && (cd "$tmp" && eval "$get"); }
  mkdir -p "$CACHE_DIR/promtool"
  dpkg-deb -x "$(ls "$tmp"/*.deb)" "$CACHE_DIR/promtool"
  rm -rf "$tmp"
  [ -x "$PROMTOOL" ] || { echo "Debian's package held no promtool" >&2; return 1; }
}

# The modules run on managed hosts with the distribution's python3-tomlkit:
# a venv per release Debian ships, for the module tests.
# shellcheck disable=SC2034  # read by scripts/test
DEBIAN_TOMLKIT_VERSIONS="0.11.7 0.13.2"  # Debian 12, Debian 13
ensure_tomlkit_venv() {
  local version=$1 venv=$CACHE_DIR/tomlkit-$1
  if [ ! -x "$venv/bin/pytest" ]; then
    log "creating $venv (tomlkit==$version, the release a Debian host has)"
    python3 -m venv "$venv"
    quiet_pip "$venv/bin/pip" install -q "tomlkit==$version" pytest hypothesis "ansible-core>=2.19,<2.20"
  fi
}

# Base images for Molecule: no registry is reachable, so they are built with
# debootstrap and imported once, cached by tag. IMAGE_RECIPE changes when the
# recipe does, so a cached image of an older recipe is rebuilt.
IMAGE_RECIPE=2
ensure_image() {
  local version=$1 suite=$2
  local tag=$IMAGE_REPO:$version
  [ "$(docker image inspect -f '{{ index .Config.Labels "selfhosted.prefect.recipe" }}' "$tag" 2>/dev/null)" = "$IMAGE_RECIPE" ] \
    && return 0
  ensure_apt_packages debootstrap
  local root
  root=$(mktemp -d "/var/tmp/debootstrap-$suite.XXXX")
  log "debootstrap $suite into $root (once; cached as $tag)"
  debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,dbus,python3,python3-apt,ca-certificates,iproute2,procps,sudo,curl \
    "$suite" "$root" "$DEBIAN_MIRROR" >/dev/null
  # A container has no consoles or hardware to wait for.
  for unit in getty.target systemd-firstboot.service systemd-udevd.service \
      systemd-resolved.service systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
  done
  : >"$root/etc/machine-id"
  # Package lists as an installed Debian host has them (debootstrap leaves
  # none), so the roles meet what they meet on a real fresh host.
  chroot "$root" apt-get update -qq
  rm -rf "$root"/var/cache/apt/archives/*.deb
  tar -C "$root" -c . | docker import \
    --change 'CMD ["/lib/systemd/systemd"]' --change 'ENV container=docker' \
    --change "LABEL selfhosted.prefect.recipe=$IMAGE_RECIPE" - "$tag" >/dev/null
  rm -rf "$root"
}

ensure_images() {
  ensure_docker
  ensure_image 12 bookworm
  ensure_image 13 trixie
}

# Release tools for the collection stage, pinned, each set in its own venv:
# galaxy-importer pins its own ansible-lint and brings ansible-builder; the
# ansible package gives its ansible-lint the collections the roles use, as
# the tools venv has them. antsibull-changelog finds roles and filter plugins
# only with ansible-core importable beside it (else it announces neither).
# A venv is rebuilt when its pins change.
GALAXY_IMPORTER_PINS=(galaxy-importer==0.4.44 ansible-builder==3.2.0 ansible-core==2.19.14 ansible==12.3.0)
ANTSIBULL_PINS=(antsibull-changelog==0.36.0 antsibull-docs==2.28.0 ansible-core==2.19.14)
ensure_pinned_venv() {
  local venv=$CACHE_DIR/$1
  shift
  if [ "$(cat "$venv/.pins" 2>/dev/null)" != "$*" ]; then
    log "installing $* into $venv"
    rm -rf "$venv" && python3 -m venv "$venv"
    quiet_pip "$venv/bin/pip" install -q --upgrade pip
    quiet_pip "$venv/bin/pip" install -q "$@"
    echo "$*" >"$venv/.pins"
  fi
}
ensure_release_tools() {
  ensure_pinned_venv galaxy-importer-venv "${GALAXY_IMPORTER_PINS[@]}"
  ensure_pinned_venv antsibull-venv "${ANTSIBULL_PINS[@]}"
  export GALAXY_IMPORTER_VENV=$CACHE_DIR/galaxy-importer-venv ANTSIBULL_VENV=$CACHE_DIR/antsibull-venv
}
