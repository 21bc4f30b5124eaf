"""`make compare`: the experiments as one short table (`dvc exp show` has a column per metrics
file and key, hundreds of characters wide). Rows: the workspace, the baseline commit and each
experiment, best winner first. Columns: the winner's val and test scores (metrics/evaluate.json),
each model's test accuracy, and only the params that differ between the rows.

    python scripts/compare.py            # any `dvc exp show` option may follow, e.g. -A or --rev
"""
from __future__ import annotations

import io
import re
import subprocess
import sys

import pandas as pd

# params.yaml's top-level keys: only their (changed) columns are kept among params and deps.
PARAMS = ("seed", "data", "train", "models", "tune", "evaluate")
SHOW = ["dvc", "exp", "show", "--csv", "--only-changed",
        "--keep", r"^(Experiment|rev|Created)$",
        "--keep", r"^metrics/evaluate\.json:(val|test)\.",
        "--keep", r"^metrics/train/.+\.json:test\.accuracy$",
        "--drop", rf"^(?!seed$|({'|'.join(PARAMS[1:])})\.)"]
SHORT = {"accuracy": "acc", "macro_f1": "f1", "roc_auc": "auc"}


def short(column: str) -> str:
    model = re.fullmatch(r"metrics/train/(.+)\.json:test\.accuracy", column)
    if model:
        return f"{model[1]} acc"
    column = column.removeprefix("metrics/evaluate.json:")
    for long, abbreviation in SHORT.items():
        column = column.replace(long, abbreviation)
    return column


def table(csv_text: str) -> pd.DataFrame:
    frame = pd.read_csv(io.StringIO(csv_text), dtype=str).fillna("")
    frame["Experiment"] = [e or r for e, r in zip(frame["Experiment"], frame["rev"])]
    frame["Created"] = frame["Created"].str.replace(r"^\d{4}-(\d\d-\d\d)T(\d\d:\d\d).*", r"\1 \2", regex=True)
    frame = frame.drop(columns="rev").rename(columns=short)
    if "test.acc" in frame:
        frame = frame.sort_values("test.acc", ascending=False, kind="stable",
                                  key=lambda s: pd.to_numeric(s, errors="coerce"))
    return frame


def main() -> None:
    shown = subprocess.run([*SHOW, *sys.argv[1:]], capture_output=True, text=True)
    if shown.returncode != 0:
        sys.exit(shown.stderr.strip() or "dvc exp show failed")
    print(table(shown.stdout).to_string(index=False))


if __name__ == "__main__":
    main()
