#!/usr/bin/env python3
"""Say in a few lines at the end of a failed `make test` what failed and why.

`make test` keeps each job's whole output in .cache/test-logs/JOB.log and
its pytest results in JOB.xml (JUnit XML). CI often keeps only the last
lines of a run, where Molecule's recap and make's errors name the failed
step but not the failed test: this prints, per job, each failed or erroring
test with where it failed and its message (from JOB.xml, else from the
log's pytest report), and, when it names no failed test, the Ansible tasks
that failed without `ignore_errors` (a converge or verify.yml step). Each
line is cut to a width that a CI log tail keeps readable. Molecule wraps
long lines at 80 columns, which the XML is safe from.
"""

from __future__ import annotations

import argparse
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

WIDTH = 300
# pytest's failure sections: "____ test_name ____" (its -v report and -rfE summary aside).
SECTION = re.compile(r"^_{3,} (?P<name>\S.*?) _{3,}$")
HEADING = re.compile(r"^={3,} (?P<title>.*?) ={3,}$")
WHERE = re.compile(r"^(?P<file>\S+\.py):(?P<line>\d+): (?P<kind>\w+)")
ERROR_LINE = re.compile(r"^E +(?P<text>.*)$")
# pytest's -r lines ("FAILED tests/x.py::test - ..."), not Ansible's "FAILED - RETRYING".
SUMMARY_LINE = re.compile(r"^(FAILED|ERROR) (?P<test>\S+\.py(::\S+)?)")
TASK = re.compile(r"^TASK \[(?P<name>.*)\]")
FATAL = re.compile(r"^(?:fatal|failed): \[(?P<host>[^\]]+)\]:? *(?P<rest>.*)$")
MESSAGE = re.compile(r"^\s+msg: (?P<msg>.*)$")
IGNORING = "...ignoring"
# Molecule frames what Ansible and pytest print: colours, and "  │ " before each line.
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
FRAME = re.compile(r"^\s*[│┃] ?")


def unframe(line: str) -> str:
    """A log line as Ansible or pytest printed it, without Molecule's colours and frame."""
    return FRAME.sub("", ANSI.sub("", line), count=1)


def cut(text: str, width: int = WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def pytest_failures(lines: list[str], per_test: int = 3) -> list[str]:
    """One entry per failed test: its name, where it failed, its first E lines."""
    failed = [m.group("test") for line in lines if (m := SUMMARY_LINE.match(line))]
    out: list[str] = []
    name = None
    where = ""
    errors: list[str] = []

    def flush() -> None:
        if name is not None:
            place = f" ({where})" if where else ""
            out.append(cut(f"{name}{place}: " + " | ".join(errors[:per_test])))

    in_failures = False
    for line in lines:
        if heading := HEADING.match(line):
            flush()
            name = None
            title = heading.group("title")
            in_failures = title in ("FAILURES", "ERRORS")
            continue
        if not in_failures:
            continue
        if section := SECTION.match(line):
            flush()
            name, where, errors = section.group("name"), "", []
        elif name is not None:
            if (error := ERROR_LINE.match(line)) and error.group("text").strip():
                errors.append(error.group("text"))
            elif at := WHERE.match(line):
                where = f"{Path(at.group('file')).name}:{at.group('line')}"
    flush()
    if not out and failed:
        out = [cut(test) for test in failed]
    return out


def junit_failures(xml: Path) -> list[str]:
    """One entry per failed or erroring test case of a JUnit XML report."""
    out: list[str] = []
    for case in ET.parse(xml).getroot().iter("testcase"):
        for kind in ("failure", "error"):
            for problem in case.findall(kind):
                places = re.findall(r"^(\S+\.py):(\d+): ", problem.text or "", re.M)
                where = f" ({Path(places[-1][0]).name}:{places[-1][1]})" if places else ""
                what = "" if kind == "failure" else "error: "
                name = case.get("name", "?")
                out.append(cut(f"{what}{name}{where}: {problem.get('message', '')}"))
    return out


def ansible_failures(lines: list[str], limit: int = 6) -> list[str]:
    """The Ansible tasks that failed and were not ignored, with their message."""
    out: list[str] = []
    task = "?"
    for index, line in enumerate(lines):
        if match := TASK.match(line):
            task = match.group("name")
            continue
        if not (match := FATAL.match(line)):
            continue
        # What the task printed after the failure, up to the next task.
        following = []
        for later in lines[index + 1 :]:
            if TASK.match(later) or FATAL.match(later):
                break
            following.append(later)
        if any(IGNORING in later for later in following):
            continue
        message = next(
            (m.group("msg") for later in following if (m := MESSAGE.match(later))),
            match.group("rest"),
        )
        out.append(cut(f"task [{task}] on {match.group('host')}: {message}"))
    return out[-limit:]


def summarise(log: Path, limit: int = 6) -> list[str]:
    lines = [unframe(line) for line in log.read_text(errors="replace").splitlines()]
    xml = log.with_suffix(".xml")
    tests = junit_failures(xml) if xml.is_file() else pytest_failures(lines)
    found = [f"  {line}" for line in tests]
    if not found:
        found = [f"  {line}" for line in ansible_failures(lines)]
    if len(found) > limit:
        found = [*found[:limit], f"  ... and {len(found) - limit} more, in {log}"]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="*", type=Path, help="the jobs' logs")
    args = parser.parse_args(argv)
    print("make test failed; what failed, from the logs in .cache/test-logs/:")
    for log in args.logs:
        if not log.is_file():
            continue
        found = summarise(log)
        print(f"{log.stem}:" + ("" if found else " no failed test or task found in its log"))
        for line in found:
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
