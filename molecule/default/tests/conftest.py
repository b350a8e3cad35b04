"""The project's rule for the testinfra run too: CI never passes by skipping.

No test here skips: each module targets only the hosts its checks apply to
(testinfra's `testinfra_hosts`, see swarm.py), so a skip can only come from
a broken prerequisite, and under CI=true it fails.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

# tests/conftest.py does not reach this directory (pytest reads a conftest
# only for the tests under it): its hook that turns a skip into a failure
# under CI=true is loaded from there, not copied, so both runs keep one rule.
_SHARED = Path(__file__).resolve().parents[3] / "tests" / "conftest.py"
_spec = importlib.util.spec_from_file_location("swarmstack_tests_conftest", _SHARED)
if _spec is None or _spec.loader is None:
    raise ImportError(f"cannot load the project's test rules from {_SHARED}")
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)
pytest_runtest_makereport = _shared.pytest_runtest_makereport
