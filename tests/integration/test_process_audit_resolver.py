# -*- coding: utf-8 -*-
# Copyright: selfhosted.prefect contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""prefect_process_audit's two resolvers agree: for contexts built from every
source Prefect reads (environment, .env, prefect.toml, pyproject.toml,
PREFECT_HOME, PREFECT_PROFILES_PATH, PREFECT_PROFILE, the active profile),
the module's own resolver finds the URL, the ephemeral switch, the
credentials and the profile that the pinned Prefect's loader (the module's
LOADER, run in that context) finds. And the loader leaves no Prefect home."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from ansible_collections.selfhosted.prefect.plugins.module_utils import process_audit as pa
from ansible_collections.selfhosted.prefect.plugins.modules.prefect_process_audit import LOADER

PREFECT_BIN = os.environ.get("PREFECT_BIN")

pytestmark = pytest.mark.skipif(
    not PREFECT_BIN, reason="PREFECT_BIN is not set (source scripts/lib/host.sh and run ensure_prefect_venv)")

PROFILES = '''active = "{active}"
[profiles.hosted]
PREFECT_API_URL = "https://profile.example/api"
PREFECT_API_KEY = "key-from-profile"
[profiles.bare]
PREFECT_SERVER_EPHEMERAL_ENABLED = "false"
[profiles.old]
PREFECT_SERVER_ALLOW_EPHEMERAL_MODE = "true"
'''
PROFILE_NAMES = st.sampled_from(["hosted", "bare", "old", "missing"])
URLS = st.sampled_from(["https://env.example/api", "https://dotenv.example/api", "http://toml.example:4200/api"])
SWITCH = st.sampled_from(["true", "false"])

CONTEXTS = st.fixed_dictionaries({}, optional={
    "home_profiles": PROFILE_NAMES,       # ~/.prefect/profiles.toml, with its active profile
    "prefect_home": PROFILE_NAMES,        # PREFECT_HOME=<dir> holding a profiles.toml
    "profiles_path_env": PROFILE_NAMES,   # PREFECT_PROFILES_PATH
    "profile_env": PROFILE_NAMES,         # PREFECT_PROFILE
    "url_env": URLS,
    "ephemeral_env": SWITCH,
    "dotenv_url": URLS,
    "dotenv_profiles_path": PROFILE_NAMES,
    "toml_url": URLS,
    "toml_ephemeral": SWITCH,
    "toml_profiles_path": PROFILE_NAMES,
    "pyproject_url": URLS,
    "auth_env": st.just("admin:secret"),
})


def _profiles(directory, active):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "profiles.toml"
    path.write_text(PROFILES.format(active=active))
    return path


def build(root, context):
    """The context's home, working directory and environment, made on disk."""
    home, cwd = root / "home", root / "work"
    cwd.mkdir(parents=True)
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    if "home_profiles" in context:
        _profiles(home / ".prefect", context["home_profiles"])
    if "prefect_home" in context:
        env["PREFECT_HOME"] = str(_profiles(root / "prefect-home", context["prefect_home"]).parent)
    if "profiles_path_env" in context:
        env["PREFECT_PROFILES_PATH"] = str(_profiles(root / "env-profiles", context["profiles_path_env"]))
    if "profile_env" in context:
        env["PREFECT_PROFILE"] = context["profile_env"]
    if "url_env" in context:
        env["PREFECT_API_URL"] = context["url_env"]
    if "ephemeral_env" in context:
        env["PREFECT_SERVER_EPHEMERAL_ENABLED"] = context["ephemeral_env"]
    if "auth_env" in context:
        env["PREFECT_API_AUTH_STRING"] = context["auth_env"]
    dotenv, toml, pyproject = [], [], []
    if "dotenv_url" in context:
        dotenv.append("PREFECT_API_URL=%s" % context["dotenv_url"])
    if "dotenv_profiles_path" in context:
        dotenv.append("PREFECT_PROFILES_PATH=%s" % _profiles(root / "dotenv-profiles", context["dotenv_profiles_path"]))
    if "toml_profiles_path" in context:
        toml.append('profiles_path = "%s"' % _profiles(root / "toml-profiles", context["toml_profiles_path"]))
    if "toml_url" in context:
        toml += ["[api]", 'url = "%s"' % context["toml_url"]]
    if "toml_ephemeral" in context:
        toml += ["[server.ephemeral]", 'enabled = %s' % context["toml_ephemeral"]]
    if "pyproject_url" in context:
        pyproject += ["[tool.prefect.api]", 'url = "%s"' % context["pyproject_url"]]
    for name, lines in ((".env", dotenv), ("prefect.toml", toml), ("pyproject.toml", pyproject)):
        if lines:
            (cwd / name).write_text("\n".join(lines) + "\n")
    return home, cwd, env


def prefect_loader(cwd, env, tmp):
    loader = tmp / "loader.py"
    loader.write_text(LOADER)
    python = str(pathlib.Path(PREFECT_BIN).parent / "python")
    request = json.dumps(dict(argv=[python], probe=False, timeout=5))
    run = subprocess.run([python, str(loader), request], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=60, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


def _read(path):
    try:
        return pathlib.Path(path).read_text()
    except OSError:
        return None


def _compare(root, context):
    home, cwd, env = build(root, context)
    prefect = prefect_loader(cwd, env, root)
    assert "error" not in prefect, prefect
    module = pa.resolve_settings(env, str(cwd), _read, tomllib.loads)
    keys = ("api_url", "ephemeral_enabled", "credentials", "profile", "profiles_path")
    assert {key: module[key] for key in keys} == {key: prefect[key] for key in keys}, context
    assert not (home / ".prefect").exists() or "home_profiles" in context, "the loader left a Prefect home"


@pytest.mark.parametrize("context", [
    {},
    {"home_profiles": "hosted"},
    {"home_profiles": "bare"},
    {"home_profiles": "hosted", "profile_env": "bare"},
    {"home_profiles": "hosted", "prefect_home": "bare"},
    {"home_profiles": "bare", "toml_url": "http://toml.example:4200/api"},
    {"home_profiles": "hosted", "dotenv_profiles_path": "old"},
    {"home_profiles": "old", "toml_ephemeral": "false"},
    {"url_env": "https://env.example/api", "dotenv_url": "https://dotenv.example/api"},
    {"pyproject_url": "https://dotenv.example/api", "profiles_path_env": "missing"},
])
def test_module_resolver_agrees_with_prefect_on_chosen_contexts(tmp_path, context):
    _compare(tmp_path, context)


@hsettings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(context=CONTEXTS)
def test_module_resolver_agrees_with_prefect_on_generated_contexts(tmp_path_factory, context):
    _compare(tmp_path_factory.mktemp("context"), context)
