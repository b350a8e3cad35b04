"""scripts/test_summary.py: what a failed `make test` names in its last lines.

The logs are real: a pytest run of a small failing test file, with the
options the project's runs use, and an Ansible run of a playbook with a
failing task, an ignored one and a failing loop item.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("test_summary", REPO / "scripts" / "test_summary.py")
assert spec and spec.loader
summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(summary)

FAILING_TESTS = """
import pytest

def test_passes():
    pass

def test_counter_rose():
    rose = 5
    assert rose <= 3, f"the counter rose by {rose}: " + "x" * 1000

@pytest.fixture
def swarm():
    raise RuntimeError("no swarm here")

def test_needs_swarm(swarm):
    pass
"""

PLAYBOOK = """
- name: A play that fails
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Fail but be ignored
      ansible.builtin.fail:
        msg: this one is ignored
      ignore_errors: true
    - name: Retry and be ignored
      ansible.builtin.command: "false"
      changed_when: false
      register: retried
      until: retried.rc == 0
      retries: 1
      delay: 0
      ignore_errors: true
    - name: Fail one item
      ansible.builtin.fail:
        msg: "item {{ item }} is bad"
      when: item == 'b'
      loop: [a, b]
      ignore_errors: false
"""


# Molecule's framing of what it runs: a dim "│" before each line, and
# lines wrapped at 80 columns.
FRAMINGS = {"as printed": "", "framed by Molecule": "  \x1b[2m\u2502\x1b[0m "}


PYTEST = [sys.executable, "-m", "pytest"]


def run_pytest(tmp_path: Path, framing: str) -> Path:
    """The failing tests run as `make test` runs pytest, its output as logged, its report beside."""
    (tmp_path / "test_failing.py").write_text(FAILING_TESTS)
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_ADDOPTS"}
    run = subprocess.run(
        [
            *PYTEST,
            "-v",
            "-rfEs",
            "-p",
            "no:cacheprovider",
            "--junitxml=unit.xml",
            "test_failing.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={**env, "CI": ""},
    )
    assert run.returncode == 1, run.stdout
    log = tmp_path / "unit.log"
    output = run.stdout + run.stderr
    log.write_text("".join(framing + line + "\n" for line in output.splitlines()))
    return log


@pytest.mark.parametrize("framing", FRAMINGS.values(), ids=FRAMINGS.keys())
def test_names_each_failed_test_where_it_failed_and_why(tmp_path: Path, framing: str) -> None:
    lines = summary.summarise(run_pytest(tmp_path, framing))
    assert len(lines) == 2, lines
    setup, failed = sorted(lines)
    assert "test_needs_swarm" in setup and "RuntimeError: no swarm here" in setup
    assert "test_counter_rose (test_failing.py:9)" in failed
    assert "the counter rose by 5" in failed
    assert all(len(line) <= summary.WIDTH + 2 for line in lines), lines


def test_reads_the_junit_report_when_molecule_wrapped_the_log(tmp_path: Path) -> None:
    log = run_pytest(tmp_path, FRAMINGS["framed by Molecule"])
    wrapped = [
        line[i : i + 76] for line in log.read_text().splitlines() for i in range(0, len(line), 76)
    ]
    log.write_text("".join("  \u2502 " + line + "\n" for line in wrapped))
    lines = summary.summarise(log)
    assert len(lines) == 2, lines
    setup, failed = sorted(lines)
    assert "error: test_needs_swarm (test_failing.py:13)" in setup, setup
    assert "no swarm here" in setup, setup
    assert "test_counter_rose (test_failing.py:9): AssertionError: the counter rose by 5" in failed
    assert all(len(line) <= summary.WIDTH + 2 for line in lines), lines


def run_failing_playbook(tmp_path: Path, playbook: str) -> subprocess.CompletedProcess[str]:
    """The playbook run as the project's runs print (YAML results, no colour); it must fail."""
    (tmp_path / "play.yml").write_text(playbook)
    run = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", "-c", "local", "play.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_CALLBACK_RESULT_FORMAT": "yaml"},
    )
    assert run.returncode == 2, run.stdout
    return run


@pytest.mark.parametrize("framing", FRAMINGS.values(), ids=FRAMINGS.keys())
def test_names_the_failed_ansible_task_but_not_the_ignored_ones(
    tmp_path: Path, framing: str
) -> None:
    run = run_failing_playbook(tmp_path, PLAYBOOK)
    assert "FAILED - RETRYING" in run.stdout and "...ignoring" in run.stdout, run.stdout
    log = tmp_path / "default.log"
    log.write_text("".join(framing + line + "\n" for line in run.stdout.splitlines()))
    lines = summary.summarise(log)
    assert lines == ["  task [Fail one item] on localhost: item b is bad"], (lines, run.stdout)


# What verify.yml's last task says when a check fails: a message longer than
# a line, with quotes, ending with what was seen and where the report is.
LONG_FAILURE = """
- name: A play whose check fails with a long message
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Fail on any failed check
      ansible.builtin.assert:
        that: false
        fail_msg: >-
          Failed: new primary's node lost (fail back): other nodes answer while vCon02 is down
          (expected every answer 200, none without a count for 30 s or more, seen longest without
          a count 31.2 s, highest count 1234, {"200": 210}
          {"counted": 190, "counter disabled": 20}).
          Report: /tmp/verify-report.json
    - name: Not reached
      ansible.builtin.command: "false"
"""


@pytest.mark.parametrize("framing", FRAMINGS.values(), ids=FRAMINGS.keys())
def test_a_failed_task_s_message_folded_over_lines_is_given_whole(
    tmp_path: Path, framing: str
) -> None:
    run = run_failing_playbook(tmp_path, LONG_FAILURE)
    printed = run.stdout.splitlines()
    # Folded: the msg's first line does not hold its end.
    assert any(
        line.startswith("    msg: 'Failed:") and "Report:" not in line for line in printed
    ), printed
    if framing:
        # Molecule also wraps each line at 80 columns, the rest indented by two.
        printed = [
            part
            for line in printed
            for part in [line[:76], *("  " + line[i : i + 74] for i in range(76, len(line), 74))]
        ]
    log = tmp_path / "drills.log"
    log.write_text("".join(framing + line + "\n" for line in printed))
    [line] = summary.summarise(log)
    start = "  task [Fail on any failed check] on localhost: Failed: new primary's node lost"
    assert line.startswith(start), line
    assert "seen longest without a count 31.2 s" in line, line
    assert line.endswith("Report: /tmp/verify-report.json"), line
    assert "changed:" not in line and "evaluated_to" not in line, line


MULTILINE_FAILURE = """
- name: A play whose task fails with a message of several lines
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Fail with lines
      ansible.builtin.fail:
        msg: "the first line\\nthe second line"
"""


def test_a_failed_task_s_message_of_several_lines_is_given_on_one(tmp_path: Path) -> None:
    run = run_failing_playbook(tmp_path, MULTILINE_FAILURE)
    assert "    msg: |-" in run.stdout.splitlines(), run.stdout  # a block scalar
    log = tmp_path / "default.log"
    log.write_text(run.stdout)
    assert summary.summarise(log) == [
        "  task [Fail with lines] on localhost: the first line the second line"
    ]


def test_a_log_without_failures_says_so(tmp_path: Path, capsys) -> None:
    log = tmp_path / "drills.log"
    log.write_text("PLAY RECAP\nlocalhost : ok=1 changed=0 failed=0\n")
    assert summary.main([str(log), str(tmp_path / "absent.log")]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "drills: no failed test or task found in its log"
    ]


def test_a_long_message_keeps_its_start_and_its_end() -> None:
    message = "AssertionError: site.yml failed " + "x" * 5000 + " fatal: [vCon02]: UNREACHABLE!"
    line = summary.cut(message)
    assert len(line) <= summary.WIDTH, len(line)
    assert line.startswith("AssertionError: site.yml failed ")
    assert line.endswith("fatal: [vCon02]: UNREACHABLE!")
    assert " ... " in line
    assert summary.cut("short\n  and   plain") == "short and plain"
