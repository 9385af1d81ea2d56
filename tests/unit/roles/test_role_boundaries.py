# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each role owns one concern: the database work sits in prefect_postgresql,
no role reads another role's variables through hostvars or runs another
role's files by path, and every entry point a role or playbook calls with
tasks_from has an argument spec, so its input is checked."""
from __future__ import annotations

import pathlib
import re

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[3]
ROLES = sorted(path.name for path in (REPO / "roles").iterdir() if (path / "tasks").is_dir())
ROLE_FILES = {role: sorted(p for p in (REPO / "roles" / role).rglob("*") if p.suffix in (".yml", ".j2") and p.is_file())
              for role in ROLES}
PLAYBOOKS = sorted((REPO / "playbooks").glob("*.yml"))
# A Jinja expression that starts at hostvars, up to the end of its braces,
# or, in a bare condition (when:), of its YAML line: the next line that opens
# a key or a list item is no part of it.
HOSTVARS = re.compile(r"hostvars(?:(?!\}\}|%\}|\n\s*(?:- |[\w.]+:)).)*", re.S)


def role_prefixes(role):
    return (f"{role}_", f"_{role}_")


def tasks_from_calls():
    """(file, role, entry point) of every include_role/import_role with tasks_from."""
    calls = []
    for path in [p for files in ROLE_FILES.values() for p in files if "/tasks/" in str(p)] + PLAYBOOKS:
        for match in re.finditer(r"name: selfhosted\.prefect\.(\w+)\n(?:\s+\w+:.*\n)*?\s+tasks_from: (\S+)",
                                 path.read_text()):
            calls.append((path.relative_to(REPO), match.group(1), match.group(2)))
    return calls


def test_the_roles_are_found():
    assert {"prefect_postgresql", "prefect_server", "prefect_common", "prefect_loadbalancer"} <= set(ROLES)


def test_the_server_role_does_no_database_work():
    for path in ROLE_FILES["prefect_server"]:
        text = path.read_text()
        assert not re.search(r"become_user:\s*postgres\b", text), path
        assert "community.postgresql." not in text, path


@pytest.mark.parametrize("role", ROLES)
def test_no_role_reads_another_roles_variables_through_hostvars(role):
    others = [prefix for other in ROLES if other != role for prefix in role_prefixes(other)]
    for path in ROLE_FILES[role]:
        for expression in HOSTVARS.findall(path.read_text()):
            read = [prefix for prefix in others if re.search(rf"(?<![\w]){re.escape(prefix)}", expression)]
            assert not read, f"{path.relative_to(REPO)} reads {read} through hostvars: {expression}"


@pytest.mark.parametrize("role", ROLES)
def test_no_role_names_another_roles_files_by_path(role):
    for path in ROLE_FILES[role]:
        text = path.read_text()
        for other in ROLES:
            if other != role:
                assert f"roles/{other}/" not in text, path
    for path in ROLE_FILES["prefect_server"] + ROLE_FILES["prefect_worker"]:
        assert "libexec/selfhosted-prefect/prefect-db-backup" not in path.read_text(), path


def test_every_tasks_from_names_an_entry_point_with_an_argument_spec():
    calls = tasks_from_calls()
    assert {("prefect_postgresql", "dump"), ("prefect_loadbalancer", "server_state"),
            ("prefect_server", "restore_plan"), ("prefect_common", "service_user")} <= {c[1:] for c in calls}
    for path, role, entry_point in calls:
        specs = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
        assert entry_point in specs, f"{path}: {role} has no argument spec for tasks_from {entry_point}"
        assert (REPO / "roles" / role / "tasks" / f"{entry_point}.yml").is_file(), (path, entry_point)


@pytest.mark.parametrize("role", ROLES)
def test_every_entry_point_file_has_an_argument_spec_and_the_rest_are_grouped(role):
    """Entry points stand in tasks/, each with its spec; a role with several
    keeps the files of each in subdirectories."""
    specs = yaml.safe_load((REPO / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    top = sorted(p.stem for p in (REPO / "roles" / role / "tasks").glob("*.yml"))
    if len(specs) > 1:
        assert top == sorted(specs), f"{role}: tasks/ holds {top}, its entry points are {sorted(specs)}"
    else:
        assert "main" in top and list(specs) == ["main"]


def test_the_internal_role_is_run_by_roles_only():
    for path in PLAYBOOKS:
        assert "selfhosted.prefect.prefect_common" not in path.read_text(), path


def test_the_hostvars_expressions_end_where_their_jinja_ends():
    text = ("- name: a\n  when: hostvars[item]['ansible_facts'] is not defined\n  tags: [always]\n"
            "- name: b\n  vars:\n    x: >-\n      {{ hostvars['db1']\n         | map('x') }} prefect_firewall_rules\n")
    assert HOSTVARS.findall(text) == ["hostvars[item]['ansible_facts'] is not defined",
                                      "hostvars['db1']\n         | map('x') "]
