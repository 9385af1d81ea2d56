# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""prefect_worker's flow-code sync (tasks_from: code), run with
ansible-playbook against localhost into a temporary directory: from a
controller directory (stale files removed) and from a real git repository,
idempotent, root-owned and unreadable to others. The Molecule default
scenario covers the deploy that follows."""
from __future__ import annotations

import os
import re
import subprocess
import sys

ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: selfhosted.prefect.prefect_worker
        tasks_from: code.yml
      vars:
        prefect_worker_code_dir: {dest}
        prefect_worker_group: root
        prefect_worker_deploy: false
        prefect_worker_code_src: "{src}"
        prefect_worker_code_git_repo: "{repo}"
        prefect_worker_code_git_version: "{version}"
"""


def sync(tmp_path, dest, src="", repo="", version="HEAD"):
    """Run the sync; return the number of changed tasks."""
    playbook = tmp_path / "sync.yml"
    playbook.write_text(PLAY.format(dest=dest, src=src, repo=repo, version=version))
    result = subprocess.run([ANSIBLE_PLAYBOOK, "-i", "localhost,", "-e", "ansible_python_interpreter=" + sys.executable,
                             str(playbook)],
                            capture_output=True, text=True, check=False,
                            env=dict(os.environ, ANSIBLE_FORCE_COLOR="false"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return int(re.search(r"changed=(\d+)", result.stdout).group(1))


def tree(root):
    """Files under root, outside .git, as sorted relative paths."""
    paths = (os.path.relpath(os.path.join(d, f), root) for d, _dirs, files in os.walk(root) for f in files)
    return sorted(p for p in paths if ".git" not in p.split(os.sep))


def git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                   cwd=cwd, check=True, capture_output=True)


def test_directory_sync_removes_stale_files_and_is_idempotent(tmp_path):
    src, dest = tmp_path / "src", tmp_path / "flows"
    (src / "pkg").mkdir(parents=True)
    (src / "prefect.yaml").write_text("deployments: []\n")
    (src / "pkg" / "etl.py").write_text("print('v1')\n")
    dest.mkdir()
    (dest / "left-by-hand.py").write_text("stale\n")

    assert sync(tmp_path, dest, src=src) > 0
    assert tree(dest) == ["pkg/etl.py", "prefect.yaml"]
    assert os.stat(dest / "pkg" / "etl.py").st_mode & 0o777 == 0o640
    assert os.stat(dest / "pkg").st_mode & 0o777 == 0o750
    assert sync(tmp_path, dest, src=src) == 0

    (src / "pkg" / "etl.py").unlink()
    (src / "load.py").write_text("print('v2')\n")
    assert sync(tmp_path, dest, src=src) > 0
    assert tree(dest) == ["load.py", "prefect.yaml"]
    assert not (dest / "pkg" / "etl.py").exists()


def test_git_checkout_follows_the_version_and_is_idempotent(tmp_path):
    work, dest = tmp_path / "work", tmp_path / "flows"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    (work / "prefect.yaml").write_text("deployments: []\n")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "v1")
    git(work, "tag", "v1")
    (work / "etl.py").write_text("print('v2')\n")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "v2")
    dest.mkdir()
    repo = "file://%s" % work

    assert sync(tmp_path, dest, repo=repo, version="v1") > 0
    assert tree(dest) == ["prefect.yaml"]
    assert os.stat(dest / "prefect.yaml").st_mode & 0o777 == 0o640
    assert sync(tmp_path, dest, repo=repo, version="v1") == 0

    assert sync(tmp_path, dest, repo=repo, version="main") > 0
    assert tree(dest) == ["etl.py", "prefect.yaml"]
    assert (dest / "etl.py").read_text() == "print('v2')\n"
