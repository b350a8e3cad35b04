"""The live swarm of SWARMSTACK_INVENTORY, and the figures measured on it."""

from __future__ import annotations

from typing import Any

import pytest
from swarmlab import INVENTORY, MEASURED, Lab


@pytest.fixture(scope="session")
def lab() -> Lab:
    return Lab(INVENTORY)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if MEASURED:
        terminalreporter.section("operations under load")
        for line in MEASURED:
            terminalreporter.write_line(line)
