"""What every test run shares: which tests belong to it, and no silent skip in CI.

The operations tests (tests/operations/) drive a live swarm and belong to
the Molecule drills stage, which names its inventory in
SWARMSTACK_INVENTORY: without it they are not collected at all, rather than
collected and skipped.

Under CI=true a test that skips (a missing Docker engine, browser,
redis-server or data file) fails instead, with the skip's reason, which
names what is missing: CI must never pass without running a test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

collect_ignore = [] if os.environ.get("SWARMSTACK_INVENTORY") else ["operations"]


def in_ci() -> bool:
    """Whether this run is CI's, where a missing prerequisite is a failure, never a skip."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every prerequisite must be there: {reason}"
