# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A profiles.toml that is a symlink (a dotfile manager's link into its
repository) is written through: the link stays, its target gets the edit."""
from __future__ import annotations

import os
import stat
import tomllib

import pytest

from ansible_collections.selfhosted.prefect.plugins.module_utils import profiles_module
from ansible_collections.selfhosted.prefect.plugins.modules import prefect_config, prefect_config_info, prefect_profile

NOBODY = 65534

SAMPLE = '''# kept in the dotfiles repository
active = "prod"

[profiles.prod]
PREFECT_API_URL = "http://prefect.example.com:4200/api"
PREFECT_API_AUTH_STRING = "ops:LinkedSecret-1"
'''


class Linked:
    """~/.prefect/profiles.toml linked to dotfiles/prefect/profiles.toml."""

    def __init__(self, tmp_path, relative):
        self.target = tmp_path / "dotfiles" / "prefect" / "profiles.toml"
        self.link = tmp_path / "home" / ".prefect" / "profiles.toml"
        self.link.parent.mkdir(parents=True)
        self.pointer = os.path.relpath(self.target, self.link.parent) if relative else str(self.target)
        self.link.symlink_to(self.pointer)

    def write_target(self, text, mode=0o640):
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.target.write_text(text)
        os.chmod(self.target, mode)

    def assert_still_linked(self):
        """The link is untouched and nothing but the link sits beside it."""
        assert os.readlink(self.link) == self.pointer
        assert os.listdir(self.link.parent) == ["profiles.toml"]
        assert not [name for name in os.listdir(self.target.parent) if name.startswith(".profiles.")]

    def parsed(self):
        return tomllib.loads(self.target.read_text())


@pytest.fixture(params=["absolute", "relative"])
def linked(request, tmp_path):
    """A link to a profiles file holding SAMPLE with mode 0640."""
    linked = Linked(tmp_path, relative=request.param == "relative")
    linked.write_target(SAMPLE)
    return linked


@pytest.fixture
def dangling(tmp_path):
    """A link whose target (and the target's directory) does not exist yet."""
    return Linked(tmp_path, relative=True)


def run(run_module, module, linked, check=False, diff=False, **args):
    return run_module(module, dict(args, path=str(linked.link)), check=check, diff=diff)[0]


def test_prefect_config_writes_through_the_link(run_module, linked):
    result = run(run_module, prefect_config, linked, profile="prod", settings={"PREFECT_SERVER_API_PORT": 4200})
    assert result["changed"] is True
    assert result["path"] == str(linked.link)
    linked.assert_still_linked()
    assert linked.target.read_text() == SAMPLE + 'PREFECT_SERVER_API_PORT = "4200"\n'
    assert stat.S_IMODE(os.stat(linked.target).st_mode) == 0o640

    inode = os.stat(linked.target).st_ino
    again = run(run_module, prefect_config, linked, profile="prod", settings={"PREFECT_SERVER_API_PORT": 4200})
    assert again["changed"] is False
    assert os.stat(linked.target).st_ino == inode


def test_prefect_config_unset_and_exclusive_through_the_link(run_module, linked):
    run(run_module, prefect_config, linked, profile="prod", unset=["PREFECT_API_AUTH_STRING"])
    assert "PREFECT_API_AUTH_STRING" not in linked.parsed()["profiles"]["prod"]
    run(run_module, prefect_config, linked, profile="prod", exclusive=True, settings={"PREFECT_DEBUG_MODE": True})
    assert linked.parsed()["profiles"]["prod"] == {"PREFECT_DEBUG_MODE": "true"}
    linked.assert_still_linked()


def test_prefect_profile_writes_through_the_link(run_module, linked):
    result = run(run_module, prefect_profile, linked, name="staging", active=True)
    assert result["changed"] is True
    linked.assert_still_linked()
    data = linked.parsed()
    assert data["active"] == "staging"
    assert sorted(data["profiles"]) == ["prod", "staging"]
    assert stat.S_IMODE(os.stat(linked.target).st_mode) == 0o640


def test_a_chain_of_links_is_followed_to_its_end(run_module, linked, tmp_path):
    first = tmp_path / "profiles-link.toml"
    first.symlink_to(linked.link)
    run_module(prefect_profile, dict(path=str(first), name="staging"))
    assert os.readlink(first) == str(linked.link)
    linked.assert_still_linked()
    assert sorted(linked.parsed()["profiles"]) == ["prod", "staging"]


def test_the_lock_is_on_the_directory_of_the_target(run_module, linked, monkeypatch):
    locked = []
    real_lock = profiles_module.directory_lock

    def recording_lock(directory):
        locked.append(os.path.realpath(directory))
        return real_lock(directory)

    monkeypatch.setattr(profiles_module, "directory_lock", recording_lock)
    run(run_module, prefect_profile, linked, name="staging")
    assert locked == [str(linked.target.parent)]


def test_dangling_link_creates_the_target_and_keeps_the_link(run_module, dangling):
    result = run(run_module, prefect_profile, dangling, name="hosted", active=True)
    assert result["changed"] is True
    dangling.assert_still_linked()
    assert dangling.parsed() == {"active": "hosted", "profiles": {"hosted": {}}}
    assert stat.S_IMODE(os.stat(dangling.target).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(dangling.target.parent).st_mode) == 0o700


def test_check_mode_on_a_dangling_link_creates_nothing(run_module, dangling):
    result = run(run_module, prefect_profile, dangling, check=True, diff=True, name="hosted")
    assert result["changed"] is True
    assert result["diff"][0]["before"] == ""
    assert not dangling.target.parent.exists()
    assert os.readlink(dangling.link) == dangling.pointer


def test_check_mode_and_diff_are_those_of_the_target(run_module, linked, tmp_path, snapshot):
    plain = tmp_path / "plain.toml"
    plain.write_text(SAMPLE)
    before = snapshot(str(linked.target))
    args = dict(profile="prod", settings={"PREFECT_API_AUTH_STRING": "ops:NewSecret-2"})
    through_link = run(run_module, prefect_config, linked, check=True, diff=True, **args)
    direct = run_module(prefect_config, dict(args, path=str(plain)), check=True, diff=True)[0]
    assert through_link["changed"] is True
    assert [(d["before"], d["after"]) for d in through_link["diff"]] == \
        [(d["before"], d["after"]) for d in direct["diff"]]
    assert "LinkedSecret-1" not in through_link["diff"][0]["before"]
    assert before.unchanged()
    linked.assert_still_linked()


def test_backup_is_a_copy_of_the_target_beside_it(run_module, linked):
    result = run(run_module, prefect_config, linked, profile="prod", backup=True,
                 settings={"PREFECT_DEBUG_MODE": True})
    backup = result["backup_file"]
    assert os.path.dirname(backup) == str(linked.target.parent)
    assert not os.path.islink(backup)
    with open(backup) as handle:
        assert handle.read() == SAMPLE
    linked.assert_still_linked()


def test_mode_option_applies_to_the_target(run_module, linked):
    result = run(run_module, prefect_profile, linked, name="prod", mode="0600")
    assert result["changed"] is True
    assert stat.S_IMODE(os.stat(linked.target).st_mode) == 0o600
    assert linked.target.read_text() == SAMPLE
    linked.assert_still_linked()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to own files as another user")
def test_owner_of_the_target_is_kept(run_module, linked):
    os.chown(linked.target, NOBODY, NOBODY)
    run(run_module, prefect_config, linked, profile="prod", settings={"PREFECT_DEBUG_MODE": True})
    target = os.stat(linked.target)
    assert (target.st_uid, target.st_gid) == (NOBODY, NOBODY)
    assert os.lstat(linked.link).st_uid == os.geteuid()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to own files as another user")
def test_owner_option_applies_to_the_target_not_the_link(run_module, linked):
    result = run(run_module, prefect_profile, linked, name="prod", owner=str(NOBODY))
    assert result["changed"] is True
    assert os.stat(linked.target).st_uid == NOBODY
    assert os.lstat(linked.link).st_uid == os.geteuid()


def test_prefect_config_info_reads_through_the_link(run_module, linked):
    result = run(run_module, prefect_config_info, linked)
    assert result["path"] == str(linked.link)
    assert result["exists"] is True
    assert result["profile"] == "prod"
    assert result["settings"] == {"PREFECT_API_URL": "http://prefect.example.com:4200/api",
                                  "PREFECT_API_AUTH_STRING": "********"}
    assert result["api_target"] == "hosted"


def test_prefect_config_info_on_a_dangling_link_reports_no_file(run_module, dangling):
    result = run(run_module, prefect_config_info, dangling)
    assert result["exists"] is False
    assert result["api_target"] == "ephemeral"


# -- a user's link must not lead root to another user's file -----------------

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to own links as another user")


def owned_by_nobody(linked):
    os.lchown(linked.link, NOBODY, NOBODY)
    return linked


@needs_root
def test_a_users_link_to_a_root_file_is_refused_and_nothing_changes(run_module, linked):
    owned_by_nobody(linked)
    before = linked.target.read_bytes()
    result = run(run_module, prefect_config, linked, profile="prod", settings={"PREFECT_DEBUG_MODE": True})
    assert result["failed"] is True
    assert "belongs to another user than the link" in result["msg"]
    assert linked.target.read_bytes() == before
    linked.assert_still_linked()


@needs_root
def test_a_users_dangling_link_into_a_root_directory_creates_nothing(run_module, tmp_path):
    # As a link from ~/.prefect/profiles.toml to /etc/ld.so.preload would.
    root_dir = tmp_path / "etc"
    root_dir.mkdir()
    link = tmp_path / "home" / ".prefect" / "profiles.toml"
    link.parent.mkdir(parents=True)
    link.symlink_to(root_dir / "ld.so.preload")
    os.lchown(link, NOBODY, NOBODY)
    result = run_module(prefect_profile, dict(path=str(link), name="hosted", owner=str(NOBODY)))[0]
    assert result["failed"] is True
    assert os.listdir(root_dir) == []


@needs_root
def test_a_users_link_into_a_directory_still_to_create_is_refused(run_module, dangling):
    os.lchown(dangling.link, NOBODY, NOBODY)
    result = run(run_module, prefect_profile, dangling, name="hosted")
    assert result["failed"] is True
    assert "whose directory does not exist" in result["msg"]
    assert not dangling.target.parent.exists()


@needs_root
def test_a_users_link_to_their_own_file_is_followed(run_module, linked):
    owned_by_nobody(linked)
    os.chown(linked.target, NOBODY, NOBODY)
    result = run(run_module, prefect_config, linked, profile="prod", settings={"PREFECT_DEBUG_MODE": True})
    assert result["changed"] is True
    assert linked.parsed()["profiles"]["prod"]["PREFECT_DEBUG_MODE"] == "true"
    assert os.stat(linked.target).st_uid == NOBODY
    linked.assert_still_linked()


@needs_root
def test_a_users_link_to_a_new_file_in_their_directory_creates_it(run_module, dangling):
    dangling.target.parent.mkdir(parents=True)
    os.chown(dangling.target.parent, NOBODY, NOBODY)
    os.lchown(dangling.link, NOBODY, NOBODY)
    result = run(run_module, prefect_profile, dangling, name="hosted", owner=str(NOBODY))
    assert result["changed"] is True
    assert os.stat(dangling.target).st_uid == NOBODY
    dangling.assert_still_linked()


@needs_root
def test_prefect_config_info_refuses_a_users_link_to_a_root_file(run_module, linked):
    owned_by_nobody(linked)
    result = run(run_module, prefect_config_info, linked)
    assert result["failed"] is True
    assert "belongs to another user than the link" in result["msg"]
    assert "LinkedSecret-1" not in str(result)
