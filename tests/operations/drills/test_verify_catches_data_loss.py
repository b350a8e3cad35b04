"""verify.yml fails, naming the drill, when Redis keeps nothing on disk.

Runs last in the module order (after the operations): it redeploys Redis
without persistence, so the counter and the data of that Redis are lost on
purpose, then puts persistence back; Redis then reads its append-only file
again, which the no-persistence Redis never touched.
"""

from __future__ import annotations

import json
import re

import pytest
from swarmlab import INVENTORY

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(not INVENTORY, reason="needs a live swarm: set SWARMSTACK_INVENTORY"),
]

# A single Redis: with replicas, a killed server loses nothing (the failover
# drills prove that), so there would be no loss for verify.yml to catch.
NO_PERSISTENCE = ["-e", "stack_redis_persistence=none stack_redis_replicas=0"]
# Only the drill that kills Redis; verify.yml is told of `none` too, in case
# it deploys the stack.
ONLY_KILL = [
    *NO_PERSISTENCE,
    *("-e", "verify_drill_redeploy=false verify_drill_replace_redis=false"),
    *("-e", "verify_drill_stack_rm=false"),
    *("-e", "verify_drill_engine_restart=false verify_drill_kill_redis=true"),
    *("-e", "verify_drill_worker_loss=false verify_drill_manager_loss=false"),
    *("-e", "verify_drill_primary_loss=false"),
]
KILLED = "redis killed (SIGKILL)"


def test_a_redis_without_persistence_fails_the_kill_drill_by_name(lab, tmp_path) -> None:
    report = tmp_path / "report.json"
    deployed = lab.playbook("playbooks/redeploy.yml", *NO_PERSISTENCE)
    assert deployed.rc == 0, deployed.output[-3000:]
    try:
        run = lab.playbook("playbooks/verify.yml", *ONLY_KILL, "-e", f"verify_report_path={report}")
        assert run.rc != 0
        # The failure names each check with what it expected and saw.
        said = re.escape(KILLED)
        assert re.search(
            rf"Failed: {said}: counter \(expected [\d.]+, seen 1 \(back after [^)]*\)\); "
            rf"{said}: data \(expected sha256 \w+, seen sha256 \w+\)\.",
            run.flat,
        ), run.output[-3000:]
        checks = json.loads(report.read_text(encoding="utf-8"))
        assert checks["passed"] is False
        failed = [c["check"] for c in checks["checks"] if not c["pass"]]
        assert failed == ["redis killed (SIGKILL): counter", "redis killed (SIGKILL): data"]
        counter = next(
            c for c in checks["checks"] if c["check"] == "redis killed (SIGKILL): counter"
        )
        # A Redis that kept nothing starts the counter again: INCR gives 1.
        assert counter["seen"].startswith("1 "), counter
    finally:
        restored = lab.playbook("playbooks/redeploy.yml")
        assert restored.rc == 0, restored.output[-3000:]
    assert lab.visits() > 1
