"""Wall time and peak memory of the prepare stage (the whole process, as DVC runs it) on IMDB and
on the tweets.

    make bench-prepare                      # both datasets, 3 runs each
    python benchmarks/bench_prepare.py --dataset imdb --runs 5 --imdb-path ../shared/data/imdb_reviews.csv.gz

Each run is a fresh `python pipeline/prepare.py` into a temporary folder with a temporary MLflow
store, so the project's outputs and run history are not touched. Prints min / median / max wall
time and the largest peak resident memory (ru_maxrss of each run's process, from os.wait4).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def run_once(cmd: list[str], env: dict) -> tuple[float, int]:
    """(wall seconds, peak resident bytes) of one process; its output is shown only on failure."""
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)   # this child's own rusage, not the cumulative
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            log.seek(0)
            sys.exit(f"{' '.join(cmd)} exited {proc.returncode}:\n{log.read().decode(errors='replace')}")
    # ru_maxrss is KiB on Linux, bytes on macOS
    return wall, usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)


def time_prepare(data: dict, runs: int) -> tuple[list[float], list[int]]:
    times, peaks = [], []
    with tempfile.TemporaryDirectory() as tmp:
        params = yaml.safe_load((ROOT / "params.yaml").read_text())
        params["data"].update(data)
        (Path(tmp) / "params.yaml").write_text(yaml.safe_dump(params))
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
        for _ in range(runs):
            wall, peak = run_once([sys.executable, str(ROOT / "pipeline" / "prepare.py"), "--params",
                                   f"{tmp}/params.yaml", "--out", f"{tmp}/prepared", "--stats",
                                   f"{tmp}/data.json", "--plots", f"{tmp}/plots"], env)
            times.append(wall)
            peaks.append(peak)
    return times, peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=["imdb", "tweets", "both"], default="both")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--imdb-path", default=str(ROOT.parent / "shared" / "data" / "imdb_reviews.csv.gz"))
    args = parser.parse_args()
    cases = {"tweets": {"source": "tweets", "path": None},
             "imdb": {"source": "imdb", "path": args.imdb_path, "max_len": 500}}
    for name, data in cases.items():
        if args.dataset in (name, "both"):
            times, peaks = time_prepare(data, args.runs)
            print(f"prepare {name:7s} runs={len(times)} wall s: min {min(times):.1f}  "
                  f"median {statistics.median(times):.1f}  max {max(times):.1f}  "
                  f"peak RSS {max(peaks) / 2**30:.2f} GiB", flush=True)


if __name__ == "__main__":
    main()
