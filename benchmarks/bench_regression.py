"""The regression benchmark: a regression pipeline run in a scratch clone of this checkout with the
settings of a named setup, timed, then every model, peer and ensemble on test and each model's
validation MAE per fold.

    python benchmarks/bench_regression.py boston    # the notes' setting: Keras' split, 4 folds
    python benchmarks/bench_regression.py boston-defaults   # the same with regression/params.yaml's schedule
    python benchmarks/bench_regression.py imdb      # star ratings from IMDB review text
    python benchmarks/bench_regression.py diabetes  # the embedded default
The shared data folder (../shared/data beside the project) holds boston_housing.csv and
imdb_reviews.csv.gz.
"""
from __future__ import annotations

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
SHARED = ROOT.parent / "shared" / "data"
SETUPS = {
    "diabetes": {},
    # The README's Boston table: the longer schedule (the defaults before make repro's time cut).
    "boston": {"data.source": "boston", "data.path": str(SHARED / "boston_housing.csv"), "data.split": "keras",
               "train.epochs": 150, "train.early_stopping.patience": 15, "train.reduce_lr.patience": 8,
               "tune.n_trials": 6, "tune.epochs_per_trial": 60},
    "boston-defaults": {"data.source": "boston", "data.path": str(SHARED / "boston_housing.csv"),
                        "data.split": "keras"},
    "imdb": {"data.source": "imdb", "data.path": str(SHARED / "imdb_reviews.csv.gz"), "data.split": "source",
             "data.text.max_len": 200, "train.folds": 1, "train.epochs": 4, "train.batch_size": 64,
             "train.early_stopping.patience": 2, "train.reduce_lr.patience": 1, "train.optimizer": "adam",
             "train.learning_rate": 0.002, "train.clipnorm": 1.0,
             "models": {"gru": {"units": 64, "dropout": 0.2}},
             "tune.architecture": "rnn", "tune.base": {"cell": "gru"}, "tune.cross_validate": False,
             "tune.n_trials": 1, "tune.epochs_per_trial": 1, "tune.pruner": "none",
             "tune.space": {"model.units": {"type": "int", "low": 32, "high": 64, "step": 32}},
             "baselines.models": ["mean", "ridge"]},
}


# Setups whose models are trained and evaluated without the tune stages (IMDB: one GRU epoch over
# 25,000 reviews is minutes on 2 cores).
TRAINED_ONLY = {"imdb": ["gru"]}


def set_key(tree: dict, dotted: str, value) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        tree = tree.setdefault(key, {})
    tree[last] = value


def run(setup: str, work: Path) -> float:
    subprocess.run(["git", "clone", "-q", str(ROOT), str(work)], check=True)
    params_path = work / "regression" / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    for key, value in SETUPS[setup].items():
        set_key(params, key, value)
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}
    start = time.perf_counter()
    if setup in TRAINED_ONLY:  # train these models, then evaluate them (no tune stage: hours on 2 cores)
        for name in TRAINED_ONLY[setup]:
            subprocess.run(["dvc", "repro", f"regression/dvc.yaml:train@{name}"], cwd=work, check=True, env=env,
                           stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, "../pipeline/evaluate.py", "--members", ",".join(TRAINED_ONLY[setup])],
                       cwd=work / "regression", check=True, env=env, stdout=subprocess.DEVNULL)
    else:
        subprocess.run(["dvc", "repro", "regression/dvc.yaml"], cwd=work, check=True, env=env,
                       stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def table(folder: Path, seconds: float) -> None:
    details = json.loads((folder / "evaluation" / "details.json").read_text())
    winner = json.loads((folder / "evaluation" / "winner.json").read_text())
    scores = details["scores"]
    keys = [k for k in ("mae", "rmse", "r2", "within_1") if k in scores[winner["winner"]]["test"]]
    print(f"wall time of the pipeline: {seconds / 60:.1f} min; winner {winner['winner']} {winner['weights']} "
          f"(chosen on {winner['selection']} {winner['selection_metric']})\n")
    print("| candidate | val MAE | " + " | ".join(f"test {k}" for k in keys) + " |")
    print("| --- " * (len(keys) + 2) + "|")
    for name, s in sorted(scores.items(), key=lambda kv: kv[1]["test"]["mae"]):
        bold = "**" if name == winner["winner"] else ""
        print(f"| {bold}{name}{bold} | {s['val']['mae']:.3f} | " + " | ".join(f"{s['test'][k]:.3f}" for k in keys) + " |")
    if details["folds"]:
        print("\n| model | validation MAE per fold | mean ± std |\n| --- | --- | --- |")
        for name, per_fold in details["folds"].items():
            maes = [f["mae"] for f in per_fold]
            mean = sum(maes) / len(maes)
            std = (sum((m - mean) ** 2 for m in maes) / len(maes)) ** 0.5
            print(f"| {name} | {', '.join(f'{m:.2f}' for m in maes)} | {mean:.2f} ± {std:.2f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("setup", choices=sorted(SETUPS))
    parser.add_argument("--keep", type=Path, help="run in this (new) folder and keep it")
    args = parser.parse_args()
    if args.setup != "diabetes" and not SHARED.is_dir():
        print(f"{SHARED} is absent: the {args.setup} setup needs its data file there", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp) / "clone"
        seconds = run(args.setup, work)
        table(work / "regression", seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
