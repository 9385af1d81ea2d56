#!/usr/bin/env bash
# Wall time of a no-op converge of the whole stack (PostgreSQL, server,
# client on one systemd container, the scripts/demo inventory), for two
# revisions side by side in one run: BEFORE (a git ref, default the parent
# of issue 7's work) and this checkout. Each revision converges its own
# container once, then the no-op converges alternate, ROUNDS each.
#
#   benchmarks/bench_noop_converge.sh [BEFORE_REF] [ROUNDS]
#   benchmarks/bench_noop_converge.sh --smoke INVENTORY [HOST]
#
# About 15 minutes: two full converges, then the timed runs (scripts/benchmark
# runs it). --smoke proves the script still works without making or
# converging a container: one round of no-op converges, this checkout on both
# sides, of hosts this checkout converged already (INVENTORY, such as a
# Molecule scenario's inventory, limited to HOST); its figures mean nothing.
# The default scenario's verify runs it so, against multi1.
set -euo pipefail
# shellcheck source=../scripts/lib/host.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/host.sh"
cd "$REPO_ROOT"

SMOKE_INVENTORY=
LIMIT=()
if [ "${1:-}" = --smoke ]; then
  SMOKE_INVENTORY=${2:?usage: $0 --smoke INVENTORY [HOST]}
  [ -n "${3:-}" ] && LIMIT=(--limit "$3")
  set -- HEAD 1
fi
BEFORE_REF=${1:-9924201}
ROUNDS=${2:-3}
WORK=$(mktemp -d /var/tmp/bench-noop.XXXX)
BEFORE_TREE=$WORK/before
ensure_venv
if [ -n "$SMOKE_INVENTORY" ]; then
  trap 'rm -rf "$WORK"' EXIT
  BEFORE_TREE=$REPO_ROOT
else
  trap 'docker rm -f bench-before bench-after >/dev/null 2>&1 || true; docker network rm prefect-demo >/dev/null 2>&1 || true; git worktree remove --force "$WORK/before" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
  ensure_images
  git worktree add --detach "$WORK/before" "$BEFORE_REF" >/dev/null 2>&1
  export HOST_CA_BUNDLE PREFECT_DEMO_PORT=4200
  PREFECT_DEMO_DB_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
  export PREFECT_DEMO_DB_PASSWORD
fi

# The revision as the collection selfhosted.prefect of that side.
link_collection() {
  local side=$1 tree=$2
  mkdir -p "$WORK/$side/collections/ansible_collections/selfhosted"
  ln -sfn "$tree" "$WORK/$side/collections/ansible_collections/selfhosted/prefect"
}

# One container per revision (the same definition for both), and that
# revision's demo inventory pointed at it.
prepare() {
  local side=$1 tree=$2
  ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false ansible-playbook molecule/shared/create.yml \
    -e "{\"molecule_yml\": {\"platforms\": [{\"name\": \"bench-$side\", \"image\": \"$IMAGE_REPO:12\"}]}}" >/dev/null
  link_collection "$side" "$tree"
  cp -r "$tree/scripts/demo-inventory" "$WORK/$side/inventory"
  sed -i "s/prefect-demo:/bench-$side:/" "$WORK/$side/inventory/hosts.yml"
}

converge() {
  local side=$1 tree=$2
  ANSIBLE_COLLECTIONS_PATH="$WORK/$side/collections:$VENV/lib/python3.11/site-packages" \
    ansible-playbook -i "$WORK/$side/inventory" "${LIMIT[@]}" "$tree/playbooks/site.yml" >"$WORK/$side.log" 2>&1 \
    || { tail -30 "$WORK/$side.log"; return 1; }
}

seconds() {
  local started=$EPOCHREALTIME
  "$@"
  python3 -c "print(f'{$EPOCHREALTIME - $started:.1f}')"
}

if [ -n "$SMOKE_INVENTORY" ]; then
  for side in before after; do
    link_collection "$side" "$REPO_ROOT"
    ln -sfn "$(realpath "$SMOKE_INVENTORY")" "$WORK/$side/inventory"
  done
else
  prepare before "$BEFORE_TREE"
  prepare after "$REPO_ROOT"
  log "first converge of each revision (not timed)"
  converge before "$BEFORE_TREE"
  converge after "$REPO_ROOT"
fi

declare -A times=([before]="" [after]="")
for round in $(seq "$ROUNDS"); do
  for side in before after; do
    tree=$REPO_ROOT; [ "$side" = before ] && tree=$BEFORE_TREE
    t=$(seconds converge "$side" "$tree")
    grep -q 'changed=0.*failed=0' "$WORK/$side.log" || { echo "$side: the converge changed something"; tail -5 "$WORK/$side.log"; exit 1; }
    tasks=$(grep -c '^TASK \[' "$WORK/$side.log")
    ref=$BEFORE_REF; [ "$side" = after ] && ref=$(git rev-parse --short HEAD)
    echo "round $round  $side ($ref): ${t} s, $tasks tasks"
    times[$side]+="$t "
  done
done
python3 - "${times[before]}" "${times[after]}" <<'PY'
import statistics, sys
before, after = ([float(x) for x in arg.split()] for arg in sys.argv[1:])
print(f"no-op converge, median of {len(before)}: before {statistics.median(before):.1f} s, "
      f"after {statistics.median(after):.1f} s, ratio {statistics.median(before) / statistics.median(after):.2f}x")
PY
