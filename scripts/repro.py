"""`make repro`: every task's pipeline (`dvc repro <its dvc.yaml>`, one after the other), then the
wall time of each. The same as `dvc repro --all-pipelines`, plus the timings the README quotes.

    python scripts/repro.py                 # every pipeline
    python scripts/repro.py forecast        # one task's (or: dvc repro forecast/dvc.yaml)
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stage_deps import PIPELINES  # noqa: E402 - the one list of pipelines and their tasks


def main(argv: list[str]) -> int:
    wanted = [p for p, task in PIPELINES.items() if not argv or task in argv or p in argv]
    if not wanted:
        print(f"repro: no pipeline for {argv}; tasks: {', '.join(PIPELINES.values())}", file=sys.stderr)
        return 2
    times = {}
    for pipeline in wanted:
        start = time.perf_counter()
        code = subprocess.call(["dvc", "repro", pipeline, *[a for a in argv if a.startswith("-")]])
        times[pipeline] = time.perf_counter() - start
        if code != 0:
            print(f"repro: {pipeline} failed (exit {code})", file=sys.stderr)
            return code
    for pipeline, seconds in times.items():
        print(f"repro: {PIPELINES[pipeline]} ({pipeline}): {seconds / 60:.1f} min")
    print(f"repro: all: {sum(times.values()) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
