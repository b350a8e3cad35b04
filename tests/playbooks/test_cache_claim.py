"""cache_claim on the controller alone: claim the work, or take the archive another run made.

Two runs from one controller (the two Molecule scenarios, a lab and the
bench) that both lack an image must not both build it: one claims the work,
the other waits and then loads that run's archive. Each test runs the role
in a playbook of its own on this machine (a local connection), with a cache
directory of its own.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from swarmstack_harness import BIN, ROOT
from swarmstack_harness.ansible import Run, ansible_env

PREFIX = "base-0123456789ab-"
NAME = f"{PREFIX}build"
ARCHIVE = f"{PREFIX}fedcba987654.tar.gz"
WAIT_TASK = "Wait for the archive of the run that holds the claim"

PLAY = """\
- name: Claim the work or wait
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Claim
      ansible.builtin.include_role:
        name: cache_claim
      vars:
        cache_claim_dir: {cache}
        cache_claim_name: {name}
        cache_claim_prefixes: [{prefix}]
        cache_claim_wait: 60
    - name: Say whose work it is
      ansible.builtin.debug:
        msg: "ours={{{{ cache_claim_ours }}}}"
"""


class ClaimRun:
    """A playbook that runs the role on a cache directory of its own, and what it printed."""

    def __init__(self, work: Path, python: str) -> None:
        self.cache = work / "cache"
        self.cache.mkdir(mode=0o700)
        self.claim = self.cache / f"{NAME}.claim"
        self.play = work / "claim.yml"
        play = PLAY.format(cache=self.cache, name=NAME, prefix=PREFIX)
        self.play.write_text(play, encoding="utf-8")
        self.log = work / "claim.log"
        self.python = python
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("w", encoding="utf-8") as out:
            self.proc = subprocess.Popen(
                [
                    str(BIN / "ansible-playbook"),
                    *("-i", "localhost,", "-c", "local"),
                    *("-e", f"ansible_python_interpreter={self.python}"),
                    str(self.play),
                ],
                cwd=ROOT,
                env=ansible_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def printed(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def wait_until_waiting(self) -> None:
        """Until the run has begun the task that waits for the other run's archive."""
        deadline = time.monotonic() + 60
        while WAIT_TASK not in self.printed():
            assert self.proc is not None and self.proc.poll() is None, self.printed()[-3000:]
            assert time.monotonic() < deadline, "the run never began to wait"
            time.sleep(0.2)

    def ours(self) -> bool:
        """Whether the run, once ended, took the work (cache_claim_ours)."""
        assert self.proc is not None
        rc = self.proc.wait(timeout=120)
        run = Run(rc, self.printed())
        assert run.rc == 0, run.output[-3000:]
        assert "ours=True" in run.flat or "ours=False" in run.flat, run.output[-3000:]
        return "ours=True" in run.flat


@pytest.fixture
def claim(tmp_path: Path, playbook_python: str) -> ClaimRun:
    return ClaimRun(tmp_path, playbook_python)


def test_an_archive_already_made_is_taken_and_nothing_claimed(claim: ClaimRun) -> None:
    (claim.cache / ARCHIVE).write_bytes(b"archive")
    claim.start()
    assert not claim.ours()
    assert not claim.claim.exists()


def test_with_no_archive_and_no_claim_the_run_claims_the_work(claim: ClaimRun) -> None:
    claim.start()
    assert claim.ours()
    assert claim.claim.is_dir()


def test_a_waiting_run_takes_the_archive_the_claiming_run_made(claim: ClaimRun) -> None:
    """The other run holds the claim, then puts its archive in place and releases the claim."""
    claim.claim.mkdir()
    claim.start()
    claim.wait_until_waiting()
    # As base_image and stack_images do: written under another name, renamed
    # when whole, then the claim removed.
    partial = claim.cache / f"{ARCHIVE}.1234.partial"
    partial.write_bytes(b"archive")
    partial.rename(claim.cache / ARCHIVE)
    claim.claim.rmdir()
    assert not claim.ours()
    assert not claim.claim.exists()


def test_a_claim_released_without_an_archive_passes_the_work_on(claim: ClaimRun) -> None:
    """The claiming run failed: the waiting run claims the work itself."""
    claim.claim.mkdir()
    claim.start()
    claim.wait_until_waiting()
    claim.claim.rmdir()
    assert claim.ours()
    assert claim.claim.is_dir()
