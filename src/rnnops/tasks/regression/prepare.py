"""The regression task's prepare part: load and validate the table, split it (seeded, Keras'
boston split, or the file's own), standardise features and target with the training rows' (train
+ val) statistics only, tokenize texts with a vocabulary of those rows. The format it writes is
`rnnops.tasks.regression.prepared`'s."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnnops.tasks.regression.params import RegressionParams, dataset_name
from rnnops.tasks.regression.prepared import SPLITS, PreparedTable, fit_scaler, load, standardise  # noqa: F401
from rnnops.tasks.regression.table import Table, load_table, split_rows


@dataclass
class Prepared:
    data: PreparedTable
    stats: dict                        # data/stats.json (facts; not a DVC metric)
    plots: dict[str, pd.DataFrame]     # plots/data/*.csv
    origin: str


def experiment_key(params: RegressionParams) -> str:
    """MLflow experiment rnnops-regression-<dataset>; also the registered model's name."""
    return f"regression-{dataset_name(params.data)}"


def run_params(params: RegressionParams) -> dict:
    return {"seed": params.seed, "data": params.data.model_dump()}


def _token_ids(texts: dict[str, list[str]], options) -> tuple[dict, list[str], dict]:
    from rnnops.data import vectorize

    tokens = {s: vectorize.tokenize(np.asarray(texts[s], dtype=object), options) for s in SPLITS}
    import tensorflow as tf

    fitted = tf.concat([tokens["train"], tokens["val"]], axis=0)  # training rows only
    vocabulary = vectorize.build_vocabulary(fitted, options.vocab_size)
    x, lengths = {}, {}
    for s in SPLITS:
        ids = vectorize.lookup(tokens[s], vocabulary)
        flat, lengths[s] = ids.flat_values.numpy(), ids.row_lengths().numpy()
        x[s] = vectorize.pad_ragged(flat, lengths[s], options.max_len, options.truncation, options.padding)
    return x, vocabulary, lengths


def build(table: Table, params: RegressionParams) -> PreparedTable:
    data = params.data
    rows = split_rows(table, data, params.seed)
    y = {s: table.target[rows[s]] for s in SPLITS}
    fitted_y = np.concatenate([y["train"], y["val"]])
    target_scale = {"mean": float(fitted_y.mean()), "std": float(fitted_y.std()) or 1.0} if data.scale_target \
        else {"mean": 0.0, "std": 1.0}
    spec = {"task": "regression", "dataset": f"regression-{dataset_name(data)}", "target": table.target_name,
            "inputs": "text" if table.texts is not None else "tabular", "target_scale": target_scale,
            "rows": {s: int(len(r)) for s, r in rows.items()}, "split": data.split,
            "source_sha256": table.sha256, "origin": table.origin, "ratings": data.source == "imdb"}
    vocabulary = None
    if table.texts is not None:
        raw = {s: [str(t) for t in table.texts[rows[s]]] for s in SPLITS}
        x, vocabulary, _ = _token_ids(raw, data.text)
        t = data.text
        spec.update({"features": [], "text_column": data.text_column or "text", "vocab_size": len(vocabulary) + 2,
                     "max_len": t.max_len, "truncation": t.truncation, "padding": t.padding,
                     "lowercase": t.lowercase, "strip_html": t.strip_html, "strip_punctuation": t.strip_punctuation})
    else:
        values = table.features.to_numpy(dtype=np.float64)
        raw = {s: values[rows[s]] for s in SPLITS}
        scaler = fit_scaler(np.concatenate([raw["train"], raw["val"]]))  # never the test rows
        spec.update({"features": list(table.features.columns), "scaler": scaler})
        x = {s: standardise(raw[s], scaler).astype(np.float32)[:, None, :] for s in SPLITS}  # [n, 1 step, f]
    return PreparedTable(spec, x, y, rows, raw, vocabulary)


def prepare(params: RegressionParams) -> Prepared:
    table = load_table(params.data, params.seed)
    data = build(table, params)
    stats = {"dataset": data.dataset, "source_sha256": table.sha256, "origin": table.origin,
             "rows": data.spec["rows"], "inputs": data.spec["inputs"], "target": table.target_name,
             "features": len(data.spec["features"]),
             "target_train": {"mean": round(float(data.y["train"].mean()), 5),
                              "std": round(float(data.y["train"].std()), 5),
                              "min": float(data.y["train"].min()), "max": float(data.y["train"].max())}}
    if data.text:
        stats["vocab_size"] = data.spec["vocab_size"]
    table_plot = pd.DataFrame({"split": [s for s in SPLITS for _ in data.y[s]],
                               "target": np.concatenate([data.y[s] for s in SPLITS])})
    return Prepared(data, stats, {"target.csv": table_plot}, table.origin)


def describe(prep: Prepared, out: Path) -> str:
    s = prep.stats
    kind = f"{s['features']} features" if s["inputs"] == "tabular" else f"texts, vocabulary {s['vocab_size']}"
    return f"{s['dataset']}: rows {s['rows']}, {kind}, target {s['target']} -> {out}"


def write(prep: Prepared, out_dir: Path, stats_path: Path, plots_dir: Path) -> None:
    """Write every output into the (temporary) paths given; see rnnops.atomic for the commit."""
    prep.data.write(out_dir)
    stats_path.write_text(json.dumps(prep.stats, indent=2) + "\n")
    plots_dir.mkdir(parents=True)
    for name, table in prep.plots.items():
        table.to_csv(plots_dir / name, index=False, float_format="%.6g")


def log_to_mlflow(prep: Prepared, out_dir: Path, stats_path: Path, plots_dir: Path) -> None:
    """Facts as MLflow metrics, the spec, the target table."""
    import mlflow

    from rnnops.tracking.runs import log_dataset_input, log_metrics_tree

    mlflow.set_tag("data.sha256", prep.stats["source_sha256"])
    log_dataset_input(prep.data.dataset, prep.origin, prep.stats["source_sha256"], "source")
    log_metrics_tree({"rows": prep.stats["rows"], "target_train": prep.stats["target_train"]})
    mlflow.log_artifacts(str(plots_dir), "plots")
    mlflow.log_artifact(str(out_dir / "spec.json"), "prepared")
    mlflow.log_artifact(str(stats_path), "stats")
