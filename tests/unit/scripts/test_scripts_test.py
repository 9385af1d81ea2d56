"""scripts/test must fail a stage, and the run, on any failing command.

Each test sources the real scripts/test in bash (its main() is not run when
sourced), adds stand-in stages and tools, and calls main() with them.
"""
from __future__ import annotations

import os
import pathlib
import subprocess
import tempfile

SCRIPT = pathlib.Path(__file__).resolve().parents[3] / "scripts" / "test"


def run_main(definitions, *stages):
    with tempfile.TemporaryDirectory() as logs:
        return _run_main(definitions, stages, logs)


def _run_main(definitions, stages, logs):
    program = "\n".join([
        f"source {SCRIPT}",
        # No installs (venvs, Docker, images, wheels) for the stand-in stages.
        'for f in $(compgen -A function ensure_); do eval "$f() { :; }"; done',
        definitions,
        "main " + " ".join(stages),
    ])
    return subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=False,
                          env=dict(os.environ, LOG_DIR=logs, SUMMARY_LINES="3"))


def test_a_stage_failing_in_its_first_command_fails_the_run():
    result = run_main(
        'stage_broken() { false; echo "still running"; }\nstage_fine() { true; }',
        "broken", "fine",
    )
    assert result.returncode != 0
    assert "still running" not in result.stdout
    assert "stage broken FAILED" in result.stdout
    assert "stage fine passed" in result.stdout
    assert "stages: 1 passed, 1 failed" in result.stdout


def test_a_failing_pipeline_fails_its_stage():
    result = run_main('stage_piped() { false | cat; echo "after the pipe"; }', "piped")
    assert result.returncode != 0
    assert "after the pipe" not in result.stdout
    assert "stage piped FAILED" in result.stdout


def test_passing_stages_pass_the_run():
    result = run_main("stage_one() { true; }\nstage_two() { echo two; }", "one", "two")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stages: 2 passed, 0 failed" in result.stdout


def test_molecule_stage_runs_every_scenario_and_fails_on_one():
    # The real stage_molecule with a stand-in for molecule.
    result = run_main(
        "MOLECULE_SCENARIOS='first second'\n"
        'molecule() { echo "molecule $*"; [ "$3" != first ]; }',
        "molecule",
    )
    assert result.returncode != 0
    assert "molecule test -s first" in result.stdout
    assert "molecule test -s second" in result.stdout
    assert "failed scenarios: first" in result.stdout
    assert "stage molecule FAILED" in result.stdout


def test_the_end_of_a_failed_stage_is_repeated_after_the_stage_list():
    # A CI log that shows only its end still says why the stage failed.
    result = run_main(
        'stage_broken() { echo early; for n in 1 2 3 4; do echo "line $n"; done; echo "why it broke" >&2; false; }\n'
        'stage_fine() { echo "fine output"; }',
        "broken", "fine",
    )
    assert result.returncode != 0
    summary = result.stdout[result.stdout.index("stage fine passed"):]
    assert "the end of stage broken" in summary
    assert "line 3\nline 4\nwhy it broke\n" in summary
    assert "early" not in summary and "fine output" not in summary


def test_the_end_of_each_failed_scenario_is_repeated():
    result = run_main(
        "MOLECULE_SCENARIOS='first second third'\n"
        'molecule() { echo "$3 converged"; echo "$3 verified"; [ "$3" = second ] || { echo "$3 broke" >&2; return 1; }; }',
        "molecule",
    )
    summary = result.stdout[result.stdout.index("third broke"):]
    assert "the end of scenario first" in summary and "first broke" in summary
    assert "the end of scenario third" in summary
    assert "second verified" not in summary
    assert "failed scenarios: first third" in summary


def test_each_molecule_step_says_how_long_it_took():
    result = run_main(
        "MOLECULE_SCENARIOS='first'\n"
        "molecule() { printf '\\033[36mINFO\\033[0m first ➜ converge: Executing\\nok: [db1]\\n'; sleep 1;"
        " printf 'INFO first ➜ converge: Executed: Successful\\n'; }",
        "molecule",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    took = [line for line in lines if line.startswith("==> first step converge took ")]
    assert len(took) == 1 and int(took[0].split()[-2]) >= 1, lines
    assert lines.index(took[0]) == lines.index("INFO first ➜ converge: Executed: Successful") + 1


def test_a_failed_scenarios_failed_tests_come_last():
    # Molecule's framing (a dimmed bar before each line) around pytest's
    # output, then many lines of the destroy step.
    result = run_main(
        "MOLECULE_SCENARIOS='first'\n"
        "molecule() { bar='  \\033[2m│\\033[0m';"
        " printf '%b tests/test_a.py::test_b PASSED\\n' \"$bar\";"
        " printf '%b E   assert 3 < 2\\n' \"$bar\";"
        " printf '%b FAILED tests/test_a.py::test_c - AssertionError\\n' \"$bar\";"
        " for n in $(seq 80); do echo \"destroy line $n\"; done; return 1; }",
        "molecule",
    )
    assert result.returncode != 0
    failures = result.stdout[result.stdout.rindex("the failed tests of scenario first"):]
    assert "E   assert 3 < 2" in failures
    assert "FAILED tests/test_a.py::test_c - AssertionError" in failures
    assert "test_b PASSED" not in failures and "destroy line" not in failures
    assert failures.index("E   assert") < failures.index("failed scenarios: first")


def test_the_scenario_that_runs_alone_starts_once_the_others_verify():
    # first and second side by side; solo starts once both are in their
    # verify step, and is told to hold its own verify until they have ended.
    with tempfile.TemporaryDirectory() as work:
        order = pathlib.Path(work) / "order"
        result = run_main(
            "MOLECULE_SCENARIOS='first second solo'\nMOLECULE_ALONE=solo\n"
            "molecule() {\n"
            f'  echo "start $3" >>{order}\n'
            f'  [ "$3" != solo ] || echo "solo after $MOLECULE_VERIFY_AFTER" >>{order}\n'
            "  sleep 1\n"
            f'  echo "verify $3" >>{order}; echo "INFO $3 ➜ verify: Executing"\n'
            '  [ "$3" = solo ] && sleep 1 || sleep 6\n'
            f'  echo "$3 done"; echo "end $3" >>{order}\n'
            "}",
            "molecule",
        )
        events = order.read_text().split("\n")[:-1]
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(events[:2]) == ["start first", "start second"], events
    assert sorted(events[2:4]) == ["verify first", "verify second"], events
    assert events[4] == "start solo", events
    logs = pathlib.Path(events[5].split()[2]).parent
    assert events[5].split()[2:] == [str(logs / "molecule-first.time"), str(logs / "molecule-second.time")], events
    assert events.index("start solo") < events.index("end first"), events
    # Each output in one piece, with its steps' start, and every scenario's verdict and time.
    assert "INFO first ➜ verify: Executing\n==> first step verify started\nfirst done\n" in result.stdout
    assert all(f"scenario {name} passed in " in result.stdout for name in ("first", "second", "solo"))


def test_a_failed_scenario_that_runs_alone_fails_the_stage():
    result = run_main(
        "MOLECULE_SCENARIOS='first solo'\nMOLECULE_ALONE=solo\n"
        'molecule() { echo "$3 ran"; [ "$3" != solo ]; }',
        "molecule",
    )
    assert result.returncode != 0
    assert "scenario first passed in " in result.stdout
    assert "scenario solo FAILED in " in result.stdout
    assert result.stdout.rstrip().endswith("stages: 0 passed, 1 failed")
    assert "failed scenarios: solo" in result.stdout


def test_the_molecule_stage_runs_beside_the_others_and_its_output_follows_theirs():
    # molecule starts first and is still converging while `fine` runs; its
    # output comes after fine's, whole, and both verdicts count.
    with tempfile.TemporaryDirectory() as work:
        order = pathlib.Path(work) / "order"
        result = run_main(
            "MOLECULE_SCENARIOS='first'\n"
            f'molecule() {{ echo "molecule start" >>{order}; echo "first converged"; sleep 3;'
            f' echo "molecule end" >>{order}; }}\n'
            f'stage_fine() {{ sleep 1; echo "fine ran" >>{order}; echo "fine output"; }}',
            "fine", "molecule",
        )
        events = order.read_text().split("\n")[:-1]
    assert result.returncode == 0, result.stdout + result.stderr
    assert events == ["molecule start", "fine ran", "molecule end"], events
    out = result.stdout
    assert out.index("fine output") < out.index("stage fine passed") < out.index("first converged")
    assert out.index("first converged") < out.index("stage molecule passed in ")
    assert "stages: 2 passed, 0 failed" in out


def test_a_failed_molecule_stage_beside_the_others_fails_the_run_and_its_end_is_repeated():
    result = run_main(
        "MOLECULE_SCENARIOS='first'\n"
        'molecule() { echo "first broke"; return 1; }\n'
        "stage_fine() { true; }",
        "molecule", "fine",
    )
    assert result.returncode != 0
    summary = result.stdout[result.stdout.index("stage molecule FAILED"):]
    assert "the end of stage molecule" in summary and "failed scenarios: first" in summary
    assert result.stdout.rstrip().endswith("stages: 1 passed, 1 failed")
