"""A dataset preset's whole pipeline, as the README runs it, timed, then every model and ensemble.

    python benchmarks/bench_presets.py imdb                  # runs the preset in a scratch clone
    python benchmarks/bench_presets.py reuters --data-dir ../shared/data
    python benchmarks/bench_presets.py imdb --table-only DIR # the table of a workspace that ran it

A run clones this checkout (committed files only) into a temporary folder, times `make setup`,
then times the README's command, `make retrain PRESET=<name> SET=data.path=<data-dir>/<file>`
(prepare, every train@<model>, the Optuna study, train_tuned, evaluate, report), and prints one
Markdown row per model and ensemble from that workspace: validation and test accuracy, test
macro-F1, and for IMDB also the accuracy over the official 25,000 test reviews. prepare drops
exact duplicates (199 of IMDB's test reviews repeat another's text, all with the same label), so
the pipeline scores 24,801 reviews; counting each duplicate as often as the official set has it
gives the figure comparable with published ones.
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DATA_FILES = {"imdb": "imdb_reviews.csv.gz", "reuters": "reuters21578.tar.gz"}


def official_counts(workspace: Path, data_file: Path) -> np.ndarray | None:
    """How often each prepared IMDB test review occurs in the official test split (1, or 2+ for a
    duplicated text); None for other sources or without the CSV copy."""
    import pandas as pd

    if data_file.suffixes[-2:] != [".csv", ".gz"] or not data_file.exists():
        return None
    raw = pd.read_csv(data_file, usecols=["split", "text"])
    counts = raw[raw["split"] == "test"]["text"].value_counts()
    texts = pd.read_parquet(workspace / "data" / "prepared" / "test_texts.parquet")["text"]
    found = texts.map(counts)
    if found.isna().any():  # prepare changed a text (it does not for IMDB): no weighted figure
        return None
    return found.to_numpy(dtype=np.int64)


def rows(workspace: Path, data_file: Path) -> list[str]:
    details = json.loads((workspace / "evaluation" / "details.json").read_text())
    winner = json.loads((workspace / "evaluation" / "winner.json").read_text())["winner"]
    counts = official_counts(workspace, data_file)
    y = None
    proba = {}
    for name, record in details.items():  # members first; ensembles from their weights
        if set(record["weights"]) == {name}:
            with np.load(workspace / "models" / name / "probabilities.npz", allow_pickle=False) as npz:
                proba[name], y = npz["test"], npz["y_test"]
        else:
            proba[name] = sum(w * proba[m] for m, w in record["weights"].items())
    out = ["| model | val accuracy | test accuracy | test macro-F1 |" + (" official 25,000 test accuracy |" if counts is not None else ""),
           "| --- | --- | --- | --- |" + (" --- |" if counts is not None else "")]
    for name, record in details.items():
        label = f"**{name}** (winner)" if name == winner else name
        line = f"| {label} | {record['val']['accuracy']:.4f} | {record['test']['accuracy']:.4f} | {record['test']['macro_f1']:.4f} |"
        if counts is not None:
            correct = proba[name].argmax(axis=1) == y
            line += f" {float((correct * counts).sum() / counts.sum()):.4f} |"
        out.append(line)
    return out


def run(preset: str, data_dir: Path) -> Path:
    data = (data_dir / DATA_FILES[preset]).resolve()
    scratch = Path(tempfile.mkdtemp(prefix=f"rnnops-preset-{preset}-"))
    subprocess.run(["git", "clone", "-q", str(ROOT), str(scratch)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "VIRTUAL_ENV"))}
    start = time.perf_counter()
    subprocess.run(["make", "setup"], cwd=scratch, check=True, env=env)
    setup = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run(["make", "retrain", f"PRESET={preset}", f"SET=data.path={data}"], cwd=scratch, check=True, env=env)
    pipeline = time.perf_counter() - start
    print(f"preset {preset}: make setup {setup / 60:.1f} min; make retrain PRESET={preset} {pipeline / 60:.1f} min "
          f"(workspace {scratch})")
    return scratch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("preset", choices=sorted(DATA_FILES))
    parser.add_argument("--data-dir", type=Path, default=SHARED, help="folder with the dataset file")
    parser.add_argument("--table-only", type=Path, metavar="DIR", help="print the table of a workspace that ran it")
    args = parser.parse_args()
    workspace = args.table_only or run(args.preset, args.data_dir)
    print("\n".join(rows(workspace, args.data_dir / DATA_FILES[args.preset])))


if __name__ == "__main__":
    sys.exit(main())
