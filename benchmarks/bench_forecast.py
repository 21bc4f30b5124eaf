"""The forecasting benchmark: on the series' test period (CO2 by default), every trained model,
classical peer and ensemble with MAE / RMSE / MASE / sMAPE, test MASE per horizon step, and whether
the winner beats every baseline at every step; with --run, first a timed `dvc repro` of the
forecasting pipeline (--force: every stage, as from a fresh clone).

    python benchmarks/bench_forecast.py               # the table from forecast/evaluation/
    python benchmarks/bench_forecast.py --run --force # retrain everything, then the table
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=ROOT / "forecast", help="the pipeline's folder")
    parser.add_argument("--run", action="store_true", help="run `dvc repro` on it first (timed)")
    parser.add_argument("--force", action="store_true", help="with --run: every stage (`dvc repro --force`)")
    args = parser.parse_args()
    if args.run:
        start = time.perf_counter()
        subprocess.run(["dvc", "repro", *(["--force"] if args.force else []), str(args.folder / "dvc.yaml")],
                       cwd=ROOT, check=True)
        print(f"wall time of the pipeline: {(time.perf_counter() - start) / 60:.1f} min")
    details = json.loads((args.folder / "evaluation" / "details.json").read_text())
    winner = json.loads((args.folder / "evaluation" / "winner.json").read_text())
    stored = np.load(args.folder / "evaluation" / "test_forecasts.npz")
    peers = list(winner["peers"])
    print(f"winner: {winner['winner']} {winner['weights']} (chosen on {winner['selection_metric']}); "
          f"{len(stored['origins'])} test origins\n")
    print("| candidate | kind | test MAE | test RMSE | test MASE | test sMAPE % | MASE per step |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, d in sorted(details.items(), key=lambda kv: kv[1]["test"]["mase"]):
        kind = "baseline" if name in peers else ("ensemble" if name in ("mean", "greedy") else "model")
        steps = " / ".join(f"{v:.3f}" for v in d["test"]["per_step"]["mase"])
        bold = "**" if name == winner["winner"] else ""
        print(f"| {bold}{name}{bold} | {kind} | {d['test']['mae']:.4f} | {d['test']['rmse']:.4f} | "
              f"{d['test']['mase']:.4f} | {d['test']['smape']:.4f} | {steps} |")
    best = np.array(details[winner["winner"]]["test"]["per_step"]["mase"])
    beaten = {p: bool((best < np.array(details[p]["test"]["per_step"]["mase"])).all()) for p in peers}
    print(f"\nwinner beats every baseline at every horizon step on test MASE: {all(beaten.values())} {beaten}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
