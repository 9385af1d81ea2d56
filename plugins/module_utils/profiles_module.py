# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the profile modules share around an edit: arguments, locking, check
mode, diff, backup, the atomic write and file attributes."""
from __future__ import annotations

import contextlib
import fcntl
import grp
import os
import pwd
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.selfhosted.prefect.plugins.module_utils.profiles_toml import (
    HAS_TOMLKIT,
    TOMLKIT_IMPORT_ERROR,
    ProfilesError,
    ProfilesFile,
    check_regular_file,
    resolve_path,
)

NEW_FILE_MODE = 0o600
NEW_DIR_MODE = 0o700


def file_argument_spec():
    """Where the profiles file is; every profile module takes these."""
    return dict(
        path=dict(type="path"),
        prefect_home=dict(type="path"),
    )


def new_module(argument_spec, writes=True, **kwargs):
    """An AnsibleModule for a profiles module.

    no_log=True only stops the module from logging its own invocation to the
    managed host's journal, where setting values (secrets among them) would
    land; results are still returned, with secrets masked by no_log_values.
    """
    spec = file_argument_spec()
    if writes:
        spec["backup"] = dict(type="bool", default=False)
    spec.update(argument_spec)
    module = AnsibleModule(
        argument_spec=spec,
        mutually_exclusive=[("path", "prefect_home")],
        supports_check_mode=True,
        add_file_common_args=writes,
        no_log=True,
        **kwargs
    )
    if not HAS_TOMLKIT:
        module.fail_json(msg=missing_required_lib("tomlkit (Debian: python3-tomlkit)"), exception=TOMLKIT_IMPORT_ERROR)
    return module


def profiles_path(module):
    return resolve_path(module.params["path"], module.params["prefect_home"])


def read_profiles(module, path):
    try:
        return ProfilesFile.read(path)
    except ProfilesError as exc:
        module.fail_json(msg=str(exc), path=path)


@contextlib.contextmanager
def directory_lock(directory):
    """Serialize writers of one profiles file: an exclusive flock on its
    directory, so no lock file is left beside profiles.toml."""
    handle = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)


def _ensure_directory(module, directory):
    """Create a missing parent like Prefect does, owned like the file will be."""
    if os.path.isdir(directory):
        return
    parent = os.path.dirname(directory.rstrip(os.sep))
    _ensure_directory(module, parent)
    try:
        os.mkdir(directory, NEW_DIR_MODE)
    except FileExistsError:
        return  # a concurrent run made it
    owner, group = module.params.get("owner"), module.params.get("group")
    if owner or group:
        module.set_owner_if_different(directory, owner, False)
        module.set_group_if_different(directory, group, False)


def resolved_file(path):
    """The file a read or an edit of path reaches: path itself or, when path is a symlink
    (say a dotfile manager's link), the end of its chain, which need not exist
    yet. Renaming over the link would turn it into a regular file and leave
    its target stale; Prefect writes through the link too.

    Raises ProfilesError when a link leads where its owner could not write."""
    target = os.path.realpath(path)
    link_owner = _first_link_owner(path)
    if link_owner not in (None, 0):
        _check_link_target(path, target, link_owner)
    return target


def _first_link_owner(path):
    """The uid owning the first symlink on the way to path, or None."""
    current = os.sep
    for part in os.path.abspath(path).split(os.sep)[1:]:
        current = os.path.join(current, part)
        if os.path.islink(current):
            return os.lstat(current).st_uid
        if not os.path.exists(current):
            return None
    return None


def _check_link_target(path, target, link_owner):
    """A user's link may only lead to a file of that user, or to a new file in
    a directory of that user: the modules often run as root (become), and
    would otherwise read, create, write and chown any file a user links to
    from their home, /etc/ld.so.preload say."""
    owned = target if os.path.lexists(target) else os.path.dirname(target)
    if not os.path.isdir(os.path.dirname(target)):
        raise ProfilesError(
            "%s is a link to %s, whose directory does not exist; a link owned by uid %d is not "
            "followed into a directory the module would have to create." % (path, target, link_owner))
    if os.stat(owned).st_uid != link_owner:
        raise ProfilesError(
            "%s is a link to %s, which belongs to another user than the link (uid %d); the module "
            "writes through a user's link only to that user's files. Run it as that user "
            "(become_user) or replace the link." % (path, owned, link_owner))


def write_atomic(path, text):
    """Write a temp file in the same directory (created 0600, so a secret is
    never readable by others, not even briefly), give it the old file's mode
    and owner, then rename it over the target."""
    if os.path.lexists(path):
        check_regular_file(path, os.lstat(path))
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".profiles.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if os.path.exists(path):
            current = os.stat(path)
            os.chmod(tmp, current.st_mode & 0o7777)
            os.chown(tmp, current.st_uid, current.st_gid)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def apply_edit(module, edit, result=None):
    """Read the profiles file, let edit(profiles_file) change it in memory, then
    report and (outside check mode) write it. Returns through exit_json.

    edit raises ProfilesError for bad input; then nothing is written.
    """
    path = profiles_path(module)
    initial = dict(result or {}, changed=False, path=path)
    try:
        target = resolved_file(path)
        check_file_arguments(module.params)
    except ProfilesError as exc:
        module.fail_json(msg=str(exc), path=path)
    directory = os.path.dirname(target)
    try:
        while True:
            # Without the directory there is nothing to lock yet: compute the
            # edit, create the directory if a write is due, then start over
            # under the lock, since a concurrent run may have written first.
            locked = not module.check_mode and os.path.isdir(directory)
            with directory_lock(directory) if locked else contextlib.nullcontext():
                result = dict(initial)
                profiles = read_profiles(module, path)
                existed = profiles.exists
                result.update(edit(profiles) or {})
                before = ProfilesFile(path, profiles.original)
                new_text = profiles.render()
                result["changed"] = new_text != profiles.original
                if module._diff:
                    result["diff"] = [dict(
                        before_header="%s (content)" % path,
                        after_header="%s (content)" % path,
                        before=before.redacted_text(),
                        after=profiles.redacted_text(compare_to=before),
                    )]
                if result["changed"] and not module.check_mode:
                    if not locked:
                        _ensure_directory(module, directory)
                        continue
                    if module.params["backup"] and existed:
                        result["backup_file"] = module.backup_local(target)
                    write_atomic(target, new_text)
            break
    except ProfilesError as exc:
        module.fail_json(msg=str(exc), path=path)
    except OSError as exc:
        module.fail_json(msg="Cannot write %s: %s" % (path, exc), path=path)
    _apply_file_attributes(module, target, existed, result)
    module.exit_json(**result)


def check_file_arguments(params):
    """Refuse an owner, group or mode that cannot be applied before anything
    is written: Ansible checks them only when it applies them, after the
    edit."""
    for option, lookup in (("owner", pwd.getpwnam), ("group", grp.getgrnam)):
        name = params.get(option)
        if name is None or name.isdigit():
            continue
        try:
            lookup(name)
        except KeyError:
            raise ProfilesError("%s %r does not exist on this host." % (option, name))
    mode = params.get("mode")
    if mode is None:
        return
    try:
        number = mode if isinstance(mode, int) else int(mode, 8)
    except ValueError:
        try:
            number = AnsibleModule._symbolic_mode_to_octal(os.stat_result((stat.S_IFREG | 0o600,) + (0,) * 9), mode)
        except Exception:  # Ansible raises ValueError or a bare Exception
            raise ProfilesError("mode %r is neither octal (0600) nor symbolic (u=rw,g=,o=)." % mode)
    if number != stat.S_IMODE(number):
        raise ProfilesError("mode %r sets more than permissions (at most 07777)." % mode)


def _apply_file_attributes(module, path, existed, result):
    if not os.path.exists(path):
        return  # check mode on a new file: its attributes are part of the creation
    file_args = module.load_file_common_arguments(module.params, path=path)
    if file_args.get("mode") is None and not existed:
        file_args["mode"] = NEW_FILE_MODE
    attribute_diff = {}
    changed = module.set_fs_attributes_if_different(file_args, result["changed"], diff=attribute_diff)
    if changed and not result["changed"]:
        result["msg"] = "ownership, perms or SE linux context changed"
    result["changed"] = changed
    if module._diff and attribute_diff.get("before"):
        result.setdefault("diff", []).append(attribute_diff)
