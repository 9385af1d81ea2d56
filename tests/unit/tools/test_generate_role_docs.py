"""tools/generate_role_docs.py: every role README's variable tables are what
the tool renders from the role's meta/argument_specs.yml, and the rendering
itself (markup, defaults, suboptions, entry points)."""
from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys
import textwrap

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[3]
TOOL = REPO / "tools" / "generate_role_docs.py"


def _load_tool():
    spec = importlib.util.spec_from_file_location("generate_role_docs", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_tool()


def run_tool(*args):
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, check=False)


def test_every_role_readme_is_current():
    result = run_tool("--check")
    assert result.returncode == 0, result.stderr + "\nRun: python tools/generate_role_docs.py"


def test_every_role_readme_has_one_generated_section():
    for role in gen.role_dirs(REPO):
        text = (role / "README.md").read_text(encoding="utf-8")
        assert text.count(gen.BEGIN) == 1 and text.count(gen.END) == 1, role.name


def make_role(root, name, specs, readme):
    role = root / "roles" / name
    (role / "meta").mkdir(parents=True)
    (role / "meta" / "argument_specs.yml").write_text(textwrap.dedent(specs))
    (role / "README.md").write_text(textwrap.dedent(readme))
    return role


SPECS = """\
    ---
    argument_specs:
      main:
        short_description: A role.
        options:
          demo_port:
            type: int
            default: 4200
            description: The port.
"""


def test_check_names_the_stale_readme_and_writes_nothing(tmp_path):
    readme = f"# demo\n\nProse.\n\n{gen.BEGIN}\nold table\n{gen.END}\n\nMore prose.\n"
    role = make_role(tmp_path, "demo", SPECS, readme)
    result = run_tool("--check", "--root", str(tmp_path))
    assert result.returncode == 1
    assert "roles/demo/README.md is stale" in result.stderr
    assert (role / "README.md").read_text() == readme


def test_writing_keeps_the_prose_and_is_then_current(tmp_path):
    readme = f"# demo\n\nProse.\n\n{gen.BEGIN}\nold table\n{gen.END}\n\nMore prose.\n"
    role = make_role(tmp_path, "demo", SPECS, readme)
    assert run_tool("--root", str(tmp_path)).returncode == 0
    text = (role / "README.md").read_text()
    assert text.startswith("# demo\n\nProse.\n\n" + gen.BEGIN + "\n\n| Variable |")
    assert text.endswith(gen.END + "\n\nMore prose.\n")
    assert "old table" not in text
    assert "| `demo_port` | int | `4200` | The port. |" in text
    assert run_tool("--check", "--root", str(tmp_path)).returncode == 0


def test_a_readme_without_markers_is_stale_and_gets_a_section(tmp_path):
    role = make_role(tmp_path, "demo", SPECS, "# demo\n\nProse.\n")
    assert run_tool("--check", "--root", str(tmp_path)).returncode == 1
    assert run_tool("--root", str(tmp_path)).returncode == 0
    text = (role / "README.md").read_text()
    assert text.startswith("# demo\n\nProse.\n\n## Variables\n\n" + gen.BEGIN)


@pytest.mark.parametrize("readme", [
    f"{gen.END}\n{gen.BEGIN}\n",
    f"{gen.BEGIN}\n",
    f"{gen.BEGIN}\n{gen.END}\n{gen.BEGIN}\n{gen.END}\n",
])
def test_broken_markers_are_refused(readme):
    with pytest.raises(ValueError):
        gen.replace_block(readme, "table")


@pytest.mark.parametrize("source, markdown", [
    ("C(prefect server start)", "`prefect server start`"),
    ("V(events) and O(prefect_server_port)", "`events` and `prefect_server_port`"),
    ("I(prefect_server_auth_string)", "`prefect_server_auth_string`"),
    ("E(PREFECT_HOME)", "`PREFECT_HOME`"),
    ("O(prefect_worker_variables[].state=absent)", "`prefect_worker_variables[].state=absent`"),
    ("V(a\\)b)", "`a)b`"),
    ("B(never)", "**never**"),
    ("L(Prefect docs, https://docs.prefect.io)", "[Prefect docs](https://docs.prefect.io)"),
    ("U(https://docs.prefect.io)", "<https://docs.prefect.io>"),
    ("R(the cluster page, cluster)", "the cluster page"),
    ("M(selfhosted.prefect.prefect_work_pool)", "`selfhosted.prefect.prefect_work_pool`"),
    ("M(selfhosted.prefect.prefect_venv)", "[`selfhosted.prefect.prefect_venv`](../prefect_venv/README.md)"),
    ("P(selfhosted.prefect.drift_report#callback)", "`selfhosted.prefect.drift_report`"),
    ("P(selfhosted.prefect.prefect_venv#role)", "[`selfhosted.prefect.prefect_venv`](../prefect_venv/README.md)"),
    ("a HORIZONTALLINE b", "a  b"),
    ("C(a|b)", "`a\\|b`"),
    ("C(`x`)", "`` `x` ``"),
    ("<dir>/<name> and a|b", "&lt;dir>/&lt;name> and a\\|b"),
    ("PREFECT_HOME and prefect_* and _private", "PREFECT_HOME and prefect\\_\\* and \\_private"),
    ("API(x) is no markup", "API(x) is no markup"),
])
def test_markup_becomes_markdown(source, markdown):
    assert gen.markup_to_markdown(source, roles=["prefect_venv"]) == markdown


def test_an_unclosed_markup_command_fails():
    with pytest.raises(gen.MarkupError):
        gen.markup_to_markdown("C(never closed")


@pytest.mark.parametrize("spec, shown", [
    ({"type": "str", "required": True}, "required"),
    ({"type": "str", "required": True, "default": "x"}, "required"),
    ({"type": "str"}, "not set"),
    ({"type": "str", "default": ""}, '`""`'),
    ({"type": "str", "default": None}, "`null`"),
    ({"type": "str", "default": "3.8.8"}, "`3.8.8`"),
    ({"type": "str", "default": "*"}, "`'*'`"),
    ({"type": "str", "default": "no"}, "`'no'`"),
    ({"type": "int", "default": 0}, "`0`"),
    ({"type": "bool", "default": False}, "`false`"),
    ({"type": "list", "default": []}, "`[]`"),
    ({"type": "dict", "default": {}}, "`{}`"),
    ({"type": "list", "default": [{"name": "default", "port": 4200}]}, "`[{name: default, port: 4200}]`"),
    ({"type": "str", "default": "a|b"}, "`a\\|b`"),
])
def test_defaults_as_yaml_shows_them(spec, shown):
    assert gen.render_default(spec) == shown


@pytest.mark.parametrize("spec, shown", [
    ({}, "str"),
    ({"type": "int"}, "int"),
    ({"type": "list", "elements": "dict"}, "list of dict"),
])
def test_types_name_their_elements(spec, shown):
    assert gen.render_type(spec) == shown


def test_descriptions_are_joined_with_choices_and_secrets():
    spec = {"type": "list", "elements": "str", "choices": ["events", "flow_runs"], "no_log": True,
            "description": ["First C(one).", "Second\n  line."]}
    assert gen.render_description(spec) == (
        "First `one`. Second line. Elements of `events`, `flow_runs`. Secret: never logged (`no_log`).")
    assert gen.render_description({"description": "One string.", "choices": ["a"]}) == "One string. One of `a`."
    assert gen.render_description({}) == ""


def test_suboptions_follow_their_option_as_paths():
    specs = yaml.safe_load(textwrap.dedent("""\
        argument_specs:
          main:
            options:
              demo_instances:
                type: list
                elements: dict
                default: [{name: a}]
                description: The instances.
                options:
                  name: {type: str, required: true, description: Its name.}
                  database:
                    type: dict
                    description: Its database.
                    options:
                      host: {type: str, description: Host.}
              demo_after: {type: bool, default: true, description: After.}
        """))
    rows = gen.render_specs(specs).splitlines()
    assert rows[:2] == ["| Variable | Type | Default | Description |", "|---|---|---|---|"]
    assert [row.split(" | ")[0] for row in rows[2:]] == [
        "| `demo_instances`", "| `demo_instances[].name`", "| `demo_instances[].database`",
        "| `demo_instances[].database.host`", "| `demo_after`"]
    assert rows[3] == "| `demo_instances[].name` | str | required | Its name. |"
    assert rows[5] == "| `demo_instances[].database.host` | str | not set | Host. |"


def test_entry_points_main_first_then_each_under_its_heading():
    specs = yaml.safe_load(textwrap.dedent("""\
        argument_specs:
          restore:
            short_description: Restore a dump.
            description: ["Stops the instance, then C(pg_restore)."]
            options:
              demo_dump: {type: path, required: true, description: The dump.}
          main:
            options:
              demo_port: {type: int, default: 4200, description: The port.}
          rolling_restart:
            short_description: Restart host by host.
        """))
    text = gen.render_specs(specs)
    assert text.startswith("| Variable | Type | Default | Description |")
    assert "### Entry point" not in text.split("### Entry point `restore`")[0]
    restore = text.index("### Entry point `restore`")
    rolling = text.index("### Entry point `rolling_restart`")
    assert restore < rolling
    assert ("### Entry point `restore`\n\nRestore a dump.\n\nStops the instance, then `pg_restore`.\n\n"
            "Run it with `tasks_from: restore`.\n\n| Variable |") in text
    assert text.endswith("### Entry point `rolling_restart`\n\nRestart host by host.\n\n"
                         "Run it with `tasks_from: rolling_restart`.\n\nNo variables.")


def test_an_entry_point_without_options_says_so():
    assert gen.render_specs({"argument_specs": {"main": {"short_description": "x"}}}) == "No variables."
    assert gen.render_specs({"argument_specs": {"main": {"options": {}}}}) == "No variables."


def test_an_entry_point_taking_mains_options_refers_to_its_table():
    specs = yaml.safe_load(textwrap.dedent("""\
        argument_specs:
          main:
            options: &options
              demo_port: {type: int, default: 4200, description: The port.}
          rolling_restart:
            short_description: Restart.
            options: *options
        """))
    text = gen.render_specs(specs)
    assert text.count("| `demo_port` |") == 1
    assert text.endswith("Run it with `tasks_from: rolling_restart`.\n\n"
                         "Its variables are those of the main entry point (above).")


def test_a_spec_that_cannot_be_read_fails_naming_its_role(tmp_path):
    role = make_role(tmp_path, "demo", "argument_specs:\n  main:\n    description: - a: b: c\n", "# demo\n")
    result = run_tool("--check", "--root", str(tmp_path))
    assert result.returncode == 2
    assert "roles/demo: cannot render meta/argument_specs.yml" in result.stderr
    assert "Traceback" not in result.stderr
    assert (role / "README.md").read_text() == "# demo\n"


def test_only_the_named_roles(tmp_path):
    make_role(tmp_path, "demo", SPECS, "# demo\n")
    make_role(tmp_path, "other", SPECS, "# other\n")
    assert run_tool("--root", str(tmp_path), "demo").returncode == 0
    assert (tmp_path / "roles" / "other" / "README.md").read_text() == "# other\n"
    result = run_tool("--root", str(tmp_path), "nosuchrole")
    assert result.returncode == 2 and "nosuchrole" in result.stderr
