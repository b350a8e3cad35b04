"""Backup and restore times for 45,716 records (run by `make bench`, after bench/system_bench.py).

On the lab of inventory/bench (made here with playbooks/lab.yml and site.yml
if system_bench removed it, removed at the end unless --keep-lab):

1. POST /data of 45,716 records: the real Meteorite Landings records
   (SWARMSTACK_DATA_FILE, default ../shared/data/Meteorite_Landings.json,
   read from there), repeated with new ids, as system_bench does.
2. playbooks/backup.yml, timed (--repeat runs): the playbook's wall time,
   the entry's size and manifest.
3. A DELETE /data and more visits, then playbooks/restore.yml of the last
   backup, timed, with /readyz polled on the first manager all along: the
   longest stretch without Redis. Then the next visit must answer the
   backup's counter + 1 and GET /data hold the backup's 45,716 records.

Traffic goes only to this machine's bench lab. JSON goes to
bench/results/backup_bench.json. `--quick` (or BENCH_QUICK=1): 5,000 records
and one run of each.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

try:
    from swarmstack_harness import ROOT
    from swarmstack_harness.ansible import Run, run_playbook
    from swarmstack_harness.http import CONNECTION_ERRORS, get_json, request
    from swarmstack_harness.wait import wait_for
    from system_bench import BenchError as SystemBenchError
    from system_bench import make_records, real_records
except ImportError as err:  # run with another Python than .venv's
    sys.exit(f"backup-bench: {err}: run it with .venv/bin/python after `make setup`")

INVENTORY = ROOT / "inventory" / "bench"  # --inventory inventory/lab: the dev lab instead
RESULTS = ROOT / "bench" / "results"
RECORDS = 45_716


class BenchError(RuntimeError):
    """Something the benchmark needs is missing or failed; the message says what."""


def log(message: str) -> None:
    print(f"[backup-bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def playbook(path: str, *extra: str, lab: Lab) -> Run:
    """A playbook against the lab, with SSH connections of this bench's own."""
    run = run_playbook(
        path,
        lab.inventory,
        *extra,
        env={"ANSIBLE_SSH_CONTROL_PATH_DIR": str(lab.control)},
        timeout=3600,
    )
    log(f"  {path} {' '.join(extra)}: {run.seconds:.1f} s, rc {run.rc}")
    if run.rc:
        raise BenchError(f"{path} failed:\n{run.output[-3000:]}")
    return run


def records(count: int) -> list[dict[str, str]]:
    """The real records, repeated with new ids up to `count`: system_bench's records."""
    try:
        return make_records(real_records(), count)
    except SystemBenchError as err:
        raise BenchError(str(err)) from None


@dataclass
class Lab:
    """The lab benchmarked (its inventory directory), and this run's SSH control and backups."""

    inventory: Path
    control: Path
    backups: Path


def first_manager(inventory: Path) -> str:
    hosts = (inventory / "hosts.yml").read_text(encoding="utf-8")
    managers = yaml.safe_load(hosts)["swarm"]["children"]["managers"]["hosts"]
    return str(next(iter(managers.values()))["ansible_host"])


def visit(url: str) -> int:
    """One visit, once the counter answers: the count shown."""
    return wait_for(
        "the counter to answer",
        lambda: request(url, timeout=10).visits(),
        120,
        step=1,
        errors=CONNECTION_ERRORS,
    )


class ReadyWatch(threading.Thread):
    """GET /readyz every 0.25 s: the longest stretch it did not answer 200 (Redis unreachable)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.longest, self.polls = url, 0.0, 0
        self._done = threading.Event()

    def run(self) -> None:
        down_since = None
        while not self._done.is_set():
            try:
                ok = request(self.url, timeout=2).status == 200
            except CONNECTION_ERRORS:
                ok = False
            now = time.monotonic()
            self.polls += 1
            if ok:
                down_since = None
            else:
                down_since = down_since or now
                self.longest = max(self.longest, now - down_since)
            self._done.wait(0.25)

    def stop(self) -> float:
        self._done.set()
        self.join(10)
        return round(self.longest, 1)


def bench(args: argparse.Namespace, lab: Lab) -> dict[str, Any]:
    base = f"http://{first_manager(lab.inventory)}"
    log("the bench lab and the stack (playbooks/lab.yml, site.yml)")
    playbook("playbooks/lab.yml", lab=lab)
    playbook("site.yml", lab=lab)

    kept = get_json(f"{base}/data", timeout=300)
    try:
        return measure(args, base, lab)
    finally:  # the data found is put back, as the tests do
        body = json.dumps({"meteorite_landings": kept}).encode()
        request(f"{base}/data", "POST" if kept else "DELETE", body if kept else None, timeout=900)


def measure(args: argparse.Namespace, base: str, lab: Lab) -> dict[str, Any]:
    data = records(args.records)
    body = json.dumps({"meteorite_landings": data}).encode()
    answer = request(f"{base}/data", "POST", body, timeout=900)
    if answer.status != 201:
        raise BenchError(f"POST /data of {len(data)} records answered {answer.status}")
    log(f"loaded {len(data)} records in {answer.seconds:.1f} s")
    visit(f"{base}/")

    backups_runs = []
    for n in range(args.repeat):
        run = playbook("playbooks/backup.yml", "-e", f"backup_dir={lab.backups}", lab=lab)
        entry = sorted(p for p in lab.backups.iterdir() if p.is_dir())[-1]
        manifest = json.loads((entry / "manifest.json").read_text(encoding="utf-8"))
        backups_runs.append({"run": n + 1, "seconds": round(run.seconds, 1), "entry": entry.name})
        time.sleep(1.1)  # entries are named by the second
    if manifest["records"] != len(data):
        raise BenchError(f"the backup holds {manifest['records']} records, not {len(data)}")

    restores = []
    for n in range(args.repeat):
        for _ in range(3):
            visit(f"{base}/")
        if request(f"{base}/data", "DELETE").status != 200:
            raise BenchError("DELETE /data failed")
        watch = ReadyWatch(f"{base}/readyz")
        watch.start()
        run = playbook(
            "playbooks/restore.yml", "-e", f"backup={entry}", "-e", "confirm=yes", lab=lab
        )
        unready = watch.stop()
        after = visit(f"{base}/")
        count = len(get_json(f"{base}/data", timeout=300))
        restores.append(
            {
                "run": n + 1,
                "seconds": round(run.seconds, 1),
                "longest_unready_s": unready,
                "next_visit": after,
                "records_after": count,
                "exact": after == manifest["counter"] + 1 and count == len(data),
            }
        )
        if not restores[-1]["exact"]:
            raise BenchError(f"the restore was not exact: {restores[-1]}, manifest {manifest}")
    return {
        "records": len(data),
        "post_seconds": round(answer.seconds, 1),
        "snapshot_bytes": manifest["bytes"],
        "manifest": manifest,
        "backup": backups_runs,
        "restore": restores,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    quick = os.environ.get("BENCH_QUICK", "0") not in ("", "0")
    parser.add_argument("--quick", action="store_true", default=quick)
    parser.add_argument("--keep-lab", action="store_true", help="leave the bench lab up")
    parser.add_argument("--repeat", type=int, default=None, help="runs of each (default 3)")
    parser.add_argument(
        "--inventory",
        type=Path,
        default=INVENTORY,
        help="a lab inventory: inventory/bench (default), or inventory/lab (the dev lab, kept)",
    )
    args = parser.parse_args()
    args.inventory = args.inventory.resolve()
    args.records = 5_000 if args.quick else RECORDS
    args.repeat = args.repeat or (1 if args.quick else 3)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bbcp-", dir="/tmp") as work:
        lab = Lab(args.inventory, Path(work) / "cp", Path(work) / "backups")
        try:
            report = bench(args, lab)
        except BenchError as err:
            log(f"failed: {err}")
            return 1
        finally:
            if not args.keep_lab and args.inventory == INVENTORY.resolve():  # only its own lab
                playbook("playbooks/lab.yml", "-e", "lab_state=absent", lab=lab)
            shutil.rmtree(lab.backups, ignore_errors=True)
    (RESULTS / "backup_bench.json").write_text(json.dumps(report, indent=2) + "\n")
    backup_s = [r["seconds"] for r in report["backup"]]
    restore_s = [r["seconds"] for r in report["restore"]]
    log(
        f"{report['records']} records ({report['snapshot_bytes']} bytes of snapshot): "
        f"backup.yml {min(backup_s)}-{max(backup_s)} s, "
        f"restore.yml {min(restore_s)}-{max(restore_s)} s, "
        f"Redis unreachable at most {max(r['longest_unready_s'] for r in report['restore'])} s "
        f"per restore; every restore exact"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
