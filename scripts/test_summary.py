#!/usr/bin/env python3
"""Say in a few lines at the end of a failed `make test` what failed and why.

`make test` keeps each job's whole output in .cache/test-logs/JOB.log and
its pytest results in JOB.xml (JUnit XML). CI often keeps only the last
lines of a run, where Molecule's recap and make's errors name the failed
step but not the failed test: this prints, per job, each failed or erroring
test with where it failed and its message (from JOB.xml: Molecule wraps
what it relays at 80 columns, so pytest's report in the log cannot be read
back reliably), and, when it names no failed test, the Ansible tasks that
failed without `ignore_errors` (a converge or verify.yml step; Ansible's
"FAILED - RETRYING" lines are not failures). Each line is cut to a width
that a CI log tail keeps readable, keeping a long message's start and end.
"""

from __future__ import annotations

import argparse
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

WIDTH = 600
TASK = re.compile(r"^TASK \[(?P<name>.*)\]")
FATAL = re.compile(r"^(?:fatal|failed): \[(?P<host>[^\]]+)\]:? *(?P<rest>.*)$")
MESSAGE = re.compile(r"^\s+msg: (?P<msg>.*)$")
KEY = re.compile(r"^\s*[A-Za-z_][\w-]*:(?: |$)")
IGNORING = "...ignoring"
# Molecule frames what Ansible and pytest print: colours, and "  │ " before each line.
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
FRAME = re.compile(r"^\s*[│┃] ?")


def unframe(line: str) -> str:
    """A log line as Ansible or pytest printed it, without Molecule's colours and frame."""
    return FRAME.sub("", ANSI.sub("", line), count=1)


def cut(text: str, width: int = WIDTH) -> str:
    """The text on one line of at most width characters: its start and its end.

    A message starts with what failed and often ends with why (a command's
    last lines): a long one keeps both and drops its middle.
    """
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    tail = (width - 5) // 3
    return f"{text[: width - 5 - tail]} ... {text[-tail:]}"


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


def message(following: list[str], fatal: re.Match[str]) -> str:
    """The msg of a failed task's result, whole, or what its fatal line says.

    Ansible's YAML result format folds a long msg over several lines, more
    indented than its key, and Molecule wraps each line at 80 columns, less
    indented: the msg goes on to the next key at its own indentation or to
    the blank line that ends the result. A quoted msg is unquoted.
    """
    for index, line in enumerate(following):
        if not (match := MESSAGE.match(line)):
            continue
        indent = len(line) - len(line.lstrip())
        parts = [match.group("msg")]
        for later in following[index + 1 :]:
            at_key = KEY.match(later) and len(later) - len(later.lstrip()) == indent
            if at_key or not later.strip():
                break
            parts.append(later.strip())
        if parts[0] in ("|", "|-", "|+", ">", ">-", ">+"):  # a block scalar: its lines follow
            parts = parts[1:]
        text = " ".join(parts)
        if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":
            quote = text[0]
            text = text[1:-1].replace("''", "'") if quote == "'" else text[1:-1]
        return text
    return fatal.group("rest")


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
        out.append(cut(f"task [{task}] on {match.group('host')}: {message(following, match)}"))
    return out[-limit:]


def summarise(log: Path, limit: int = 6) -> list[str]:
    lines = [unframe(line) for line in log.read_text(errors="replace").splitlines()]
    xml = log.with_suffix(".xml")
    found = [f"  {line}" for line in (junit_failures(xml) if xml.is_file() else [])]
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
