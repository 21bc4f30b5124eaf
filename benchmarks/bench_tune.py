"""Pruning pays: the same study budget (trials) with each pruner and without one.

    python benchmarks/bench_tune.py                    # 12 trials of 4 epochs: none, hyperband, median
    python benchmarks/bench_tune.py --pruner hyperband --trials 20

Runs `pipeline/tune.py` (the real stage) once per pruner and once without one, on the project's
prepared data (run `dvc repro prepare` first) with a temporary study storage and MLflow store,
so the project's study and run history are untouched. Prints epochs spent, best validation
value and wall time of each search.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def search(pruner: str, trials: int, epochs: int, tmp: Path) -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["tune"].update(pruner=pruner, n_trials=trials, epochs_per_trial=epochs,
                          storage=f"sqlite:///{tmp}/{pruner}.db", study_name=f"bench-{pruner}")
    (tmp / f"{pruner}.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
    start = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "pipeline" / "tune.py"), "--params", f"{tmp}/{pruner}.yaml",
                    "--prepared", str(ROOT / "data" / "prepared"), "--best", f"{tmp}/{pruner}-best.json",
                    "--metrics", f"{tmp}/{pruner}.json", "--history", f"{tmp}/{pruner}.csv"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    metrics = json.loads((tmp / f"{pruner}.json").read_text())
    return {**metrics, "wall": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--pruner", choices=["hyperband", "median"], nargs="+",
                        default=["hyperband", "median"])
    args = parser.parse_args()
    if not (ROOT / "data" / "prepared" / "spec.json").exists():
        sys.exit("no prepared data: run `dvc repro prepare` first")
    with tempfile.TemporaryDirectory() as tmp:
        results = {p: search(p, args.trials, args.epochs, Path(tmp)) for p in ("none", *args.pruner)}
    for name, r in results.items():
        print(f"pruner {name:9s} trials {r['trials']}  epochs spent {r['epochs_spent']:3d}  "
              f"best {r['metric']} {r['best_value']:.4f}  wall {r['wall']:.0f} s")
    base = results["none"]
    for name in args.pruner:
        pruned = results[name]
        print(f"{name}: {pruned['epochs_spent'] / base['epochs_spent']:.0%} of the epochs, best value "
              f"{100 * (pruned['best_value'] - base['best_value']):+.2f} points")


if __name__ == "__main__":
    main()
