# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An operator can run one concern of site.yml (--tags), and the internal
role prefect_common refuses to run on its own.

ansible-playbook --list-tasks reads the real playbook and roles against an
inventory of every group; no host is contacted."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
INVENTORY = """
all:
  children:
    prefect_db: {hosts: {db1: {}}}
    prefect_backup: {hosts: {backup1: {}}}
    prefect_redis: {hosts: {db1: {}}}
    prefect_loadbalancer: {hosts: {lb1: {}}}
    prefect_server: {hosts: {api1: {}}}
    prefect_client: {hosts: {client1: {}}}
    prefect_worker: {hosts: {worker1: {}}}
    prefect_monitoring: {hosts: {monitor1: {}}}
"""
TASK = re.compile(r"^\s{6}(?P<role>[\w.]+) : (?P<name>.*?)\tTAGS: \[(?P<tags>[^\]]*)\]$")
PLAY = re.compile(r"^\s{2}play #\d+ \((?P<hosts>[^)]*)\)")


def listed_tasks(tmp_path, *args):
    """(play hosts, role, task name, tags) of every task site.yml would run."""
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(INVENTORY)
    result = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(inventory), "selfhosted.prefect.site", "--list-tasks", *args],
                            capture_output=True, text=True, check=True)
    tasks, hosts = [], None
    for line in result.stdout.splitlines():
        if play := PLAY.match(line):
            hosts = play["hosts"]
        elif task := TASK.match(line):
            tasks.append((hosts, task["role"], task["name"], set(task["tags"].split(", "))))
    assert tasks, result.stdout
    return tasks


def concern(tasks):
    """The tasks a --tags run selects beyond the ones that always run."""
    return [task for task in tasks if "always" not in task[3]]


# The backup concern: the dumps and the archiving on the database hosts, and
# the pgBackRest repository's play; the monitoring concern: its play (the
# node exporters and each role's targets are include_roles, listed without
# a role name).
@pytest.mark.parametrize("tag, plays, task_part", [
    ("backup", {("prefect_db", "selfhosted.prefect.prefect_postgresql"),
                ("prefect_backup", "selfhosted.prefect.prefect_backup_repository")}, "backup"),
    ("deployments", {("prefect_worker", "selfhosted.prefect.prefect_worker")}, "deployments"),
    ("monitoring", {("prefect_monitoring", "selfhosted.prefect.prefect_monitoring")}, "prometheus"),
])
def test_one_concern_runs_alone(tmp_path, tag, plays, task_part):
    selected = concern(listed_tasks(tmp_path, "--tags", tag))
    assert selected
    assert all((task[0], task[1]) in plays and tag in task[3] for task in selected), selected
    assert {(task[0], task[1]) for task in selected} == plays
    assert any(task_part in task[2].lower() for task in selected)


def test_tls_runs_alone_on_every_host_that_serves_or_verifies_it(tmp_path):
    """--tags tls: the certificates of PostgreSQL, Redis and the load
    balancer, and the CA the servers verify with; nothing else."""
    selected = concern(listed_tasks(tmp_path, "--tags", "tls"))
    assert all("tls" in task[3] for task in selected), selected
    plays = {(task[0], task[1]) for task in selected}
    assert {("prefect_db", "selfhosted.prefect.prefect_postgresql"),
            ("prefect_redis", "selfhosted.prefect.prefect_redis"),
            ("prefect_loadbalancer", "selfhosted.prefect.prefect_loadbalancer"),
            ("prefect_server", "selfhosted.prefect.prefect_server")} <= plays, plays
    assert any("certificate" in task[2].lower() for task in selected if task[0] == "prefect_loadbalancer")


def test_firewall_runs_the_rules_of_every_role_and_the_host_firewall(tmp_path):
    """--tags firewall: what each role lets in, and the play that loads it."""
    selected = concern(listed_tasks(tmp_path, "--tags", "firewall"))
    assert all("firewall" in task[3] for task in selected), selected
    assert any(task[1] == "selfhosted.prefect.prefect_firewall" and "prefect_worker" in task[0] for task in selected)
    # Each role's rules are an include_role, listed without a role name.
    listing = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(tmp_path / "inventory.yml"), "selfhosted.prefect.site",
                              "--list-tasks", "--tags", "firewall"], capture_output=True, text=True, check=True).stdout
    for what in ("PostgreSQL", "pgBackRest", "Redis", "the frontends", "the instances"):
        assert re.search(rf"Declare what the host firewall lets in for {what}\tTAGS: \[.*firewall", listing), what


def test_each_play_is_a_concern_and_nothing_is_left_out(tmp_path):
    everything = listed_tasks(tmp_path)
    untagged = [task for task in everything
                if not task[3] & {"always", "database", "backup", "redis", "loadbalancer", "server", "client",
                                  "workers", "firewall", "monitoring"}]
    assert untagged == []
    database = concern(listed_tasks(tmp_path, "--tags", "database"))
    assert {task[0] for task in database} == {"prefect_db"}
    assert any("backup" in task[3] for task in database)
    # In the database play the backup tag picks out a part of it.
    backup = concern(listed_tasks(tmp_path, "--tags", "backup"))
    assert len(database) > len([task for task in backup if task[0] == "prefect_db"])


def test_the_internal_role_refuses_to_run_on_its_own(tmp_path):
    playbook = tmp_path / "play.yml"
    playbook.write_text("""
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: selfhosted.prefect.prefect_common
      vars:
        prefect_common_packages: [sl]
""")
    result = subprocess.run([ANSIBLE_PLAYBOOK, "-i", "localhost,", str(playbook)],
                            capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "selfhosted.prefect.prefect_common is internal to the collection's roles" in result.stdout
    assert "Install sl" not in result.stdout
