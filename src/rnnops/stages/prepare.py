"""The prepare stage: load a source, validate, split, tokenize and pad (vocabulary fitted on train
only); the data statistics and plot tables. The format it writes is `rnnops.data.prepared`'s."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnnops.data import vectorize
from rnnops.data.prepared import SPLITS, PreparedData, load  # noqa: F401 - load: the task's reader
from rnnops.data.sources import dataset_name, load_source
from rnnops.data.splits import make_splits, subsample
from rnnops.data.validation import check_classes, clean
from rnnops.params.load import Params

PERCENTILES = (50, 90, 95, 99)


@dataclass
class Prepared:
    data: PreparedData                 # the stage's main output
    sha256: str                        # of the source file(s)
    origin: str                        # where they were read from
    stats: dict                        # data/stats.json (facts about the data; not a DVC metric)
    plots: dict[str, pd.DataFrame]     # plots/data/*.csv


def experiment_key(params: Params) -> str:
    """The dataset's name in MLflow (experiment rnnops-<key>) before anything is prepared."""
    return dataset_name(params.data)


def run_params(params: Params) -> dict:
    return {"seed": params.seed, "data": params.data.model_dump()}


def describe(prep: Prepared, out: Path) -> str:
    return (f"{prep.data.dataset}: {prep.stats['size']}, {prep.data.spec['num_classes']} classes, "
            f"vocabulary {prep.data.spec['vocab_size']} -> {out}")


def prepare(params: Params) -> Prepared:
    data = params.data
    raw = load_source(data)
    frame, dropped = clean(raw.frame, raw.origin)
    dropped.update(raw.dropped)
    frame = subsample(frame, data.subsample, params.seed)
    splits = make_splits(frame, data.val_fraction, data.test_fraction, params.seed)
    present = set(frame["label"])
    label_names = [name for name in raw.label_names if name in present]
    check_classes(splits, label_names, raw.origin)
    class_id = {name: i for i, name in enumerate(label_names)}

    tokens = {s: vectorize.tokenize(splits[s]["text"].to_numpy(dtype=object), data) for s in SPLITS}
    vocabulary = vectorize.build_vocabulary(tokens["train"], data.vocab_size)  # train only
    arrays, lengths, oov = {}, {}, {}
    for s in SPLITS:
        ids = vectorize.lookup(tokens[s], vocabulary)
        flat, lengths[s] = ids.flat_values.numpy(), ids.row_lengths().numpy()
        flat = vectorize.skip_most_frequent(flat, data.skip_top)
        oov[s] = float((flat == vectorize.OOV_ID).mean()) if flat.size else 0.0
        x = vectorize.pad_ragged(flat, lengths[s], data.max_len, data.truncation, data.padding)
        y = splits[s]["label"].map(class_id).to_numpy(dtype=np.int32)
        arrays[s] = (x, y)

    spec = {
        "dataset": raw.name, "vocab_size": len(vocabulary) + 2, "num_classes": len(label_names),
        "label_names": label_names, "max_len": data.max_len, "truncation": data.truncation,
        "padding": data.padding, "pad_id": vectorize.PAD_ID, "oov_id": vectorize.OOV_ID,
        "oov_token": vectorize.OOV_TOKEN, "lowercase": data.lowercase,
        "strip_html": data.strip_html, "strip_punctuation": data.strip_punctuation,
        "class_counts": {s: _class_counts(splits[s], label_names) for s in SPLITS},
        "source_sha256": raw.sha256,
    }
    if data.skip_top:  # only when set, so earlier prepared data keeps its bytes
        spec["skip_top"] = data.skip_top
    stats = _stats(raw.name, raw.sha256, splits, label_names, lengths, oov, dropped, spec)
    texts = {s: splits[s][["text", "label"]].assign(label=arrays[s][1]) for s in ("val", "test")}
    return Prepared(PreparedData(spec, arrays, vocabulary, texts), raw.sha256, raw.origin, stats,
                    _plot_tables(lengths["train"], spec, data.max_len))


def _class_counts(part: pd.DataFrame, label_names: list[str]) -> dict[str, int]:
    counts = part["label"].value_counts()
    return {name: int(counts.get(name, 0)) for name in label_names}


def _stats(name, sha256, splits, label_names, lengths, oov, dropped, spec) -> dict:
    train_len = lengths["train"]
    return {
        "dataset": name,
        "source_sha256": sha256,
        "num_classes": len(label_names),
        "vocab_size": spec["vocab_size"],
        "size": {s: int(len(splits[s])) for s in SPLITS},
        "class_share": {s: {c: round(n / max(1, len(splits[s])), 4)
                            for c, n in spec["class_counts"][s].items()} for s in SPLITS},
        "oov_rate": {s: round(oov[s], 5) for s in SPLITS},
        "length_tokens": {
            **{f"p{p}": round(float(np.percentile(train_len, p)), 2) for p in PERCENTILES},
            "mean": round(float(train_len.mean()), 2), "max": int(train_len.max()),
        },
        "truncated_share": {s: round(float((lengths[s] > spec["max_len"]).mean()), 5) for s in SPLITS},
        "dropped": dropped,
    }


def _plot_tables(train_len: np.ndarray, spec: dict, max_len: int) -> dict[str, pd.DataFrame]:
    """Tables for DVC plots: token-length histogram (train) and class balance per split."""
    top = int(max(np.percentile(train_len, 99.5), max_len)) + 1
    width = max(1, int(np.ceil(top / 50)))
    counts, edges = np.histogram(np.minimum(train_len, top), bins=np.arange(0, top + width, width))
    lengths = pd.DataFrame({"tokens": edges[:-1].astype(int), "documents": counts.astype(int)})
    classes = pd.DataFrame({"class": spec["label_names"],
                            **{s: [spec["class_counts"][s][c] for c in spec["label_names"]]
                               for s in SPLITS}})
    return {"lengths.csv": lengths, "classes.csv": classes}


def write(prep: Prepared, out_dir: Path, stats_path: Path, plots_dir: Path) -> None:
    """Write every output into the (temporary) paths given; see rnnops.atomic for the commit."""
    prep.data.write(out_dir)
    stats_path.write_text(json.dumps(prep.stats, indent=2) + "\n")
    plots_dir.mkdir(parents=True)
    for name, table in prep.plots.items():
        table.to_csv(plots_dir / name, index=False)


def log_to_mlflow(prep: Prepared, out_dir: Path, stats_path: Path, plots_dir: Path) -> None:
    """Data statistics (as MLflow metrics), plots (PNG + the DVC tables), vocabulary and spec."""
    import tempfile

    import mlflow

    from rnnops import plots
    from rnnops.tracking.runs import log_dataset_input, log_metrics_tree

    mlflow.set_tag("data.sha256", prep.sha256)
    log_dataset_input(prep.data.dataset, prep.origin, prep.sha256, "source")
    log_metrics_tree(prep.stats)
    with tempfile.TemporaryDirectory() as tmp:
        plots.length_histogram(prep.plots["lengths.csv"], prep.data.spec["max_len"], Path(tmp) / "lengths.png")
        plots.class_balance(prep.plots["classes.csv"], Path(tmp) / "class_balance.png")
        mlflow.log_artifacts(tmp, "plots")
    mlflow.log_artifacts(str(plots_dir), "plots")
    for name in ("vocab.txt", "labels.json", "spec.json"):
        mlflow.log_artifact(str(out_dir / name), "prepared")
    mlflow.log_artifact(str(stats_path), "stats")
