"""The seq2seq task's prepare part: generate (dates) or read (tsv, csv) the pairs, split them
(dates: by held-out days and formats; your pairs: seeded, one source never on two sides), cut
or refuse pairs over the length limits, fit each side's vocabulary on the training pairs only,
and encode the splits. The format it writes is `rnnops.tasks.seq2seq.prepared`'s."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnnops.errors import DataError
from rnnops.project import sha256_file
from rnnops.tasks.seq2seq.params import Seq2SeqParams, dataset_name
from rnnops.tasks.seq2seq.prepared import SPLITS, PreparedPairs, load  # noqa: F401 - load: a part
from rnnops.tasks.seq2seq.vocabulary import UNK, SideVocabulary, target_array


@dataclass
class Prepared:
    data: PreparedPairs
    stats: dict                        # data/stats.json (facts; not a DVC metric)
    plots: dict[str, pd.DataFrame]     # plots/data/*.csv
    origin: str


def experiment_key(params: Seq2SeqParams) -> str:
    """MLflow experiment rnnops-seq2seq-<dataset>; also the registered model's name."""
    return f"seq2seq-{dataset_name(params.data)}"


def run_params(params: Seq2SeqParams) -> dict:
    return {"seed": params.seed, "data": params.data.model_dump()}


def read_pairs(params: Seq2SeqParams) -> tuple[pd.DataFrame, str, str]:
    """(pairs with split and group, origin, sha256 of the source data)."""
    import hashlib

    from rnnops.data.files import existing
    from rnnops.tasks.seq2seq import dates, pairs

    data = params.data
    if data.source == "dates":
        d = data.dates
        frame = dates.date_pairs(params.seed, d.train, d.val, d.test, d.locales, d.formats, d.held_out,
                                 d.first_year, d.last_year)
        recipe = json.dumps({"seed": params.seed, **d.model_dump()}, sort_keys=True)
        return frame, "babel CLDR dates (generated)", hashlib.sha256(recipe.encode()).hexdigest()
    path = existing(data.path, "your sentence pairs", builtin=False)
    if path.is_dir():
        raise DataError(f"data.path: {path} is a folder. Fix: point it at one file.")
    frame = pairs.read_tsv(path) if data.source == "tsv" else \
        pairs.read_csv_pairs(path, data.source_column, data.target_column)
    if data.subsample and data.subsample < len(frame):
        frame = frame.sample(n=data.subsample, random_state=params.seed).sort_index()
    frame = pairs.split_pairs(frame, params.seed, data.val_fraction, data.test_fraction)
    return frame.assign(group="all"), str(path), sha256_file(path)


def prepare(params: Seq2SeqParams) -> Prepared:
    from rnnops.tasks.seq2seq import pairs

    data = params.data
    frame, origin, sha = read_pairs(params)
    if data.lowercase:
        frame = frame.assign(source=frame["source"].str.lower(), target=frame["target"].str.lower())
    frame, cut = pairs.limit_lengths(frame, data.max_source_len, data.max_target_len, data.too_long,
                                     data.source_level, data.target_level)
    counts = {s: int((frame["split"] == s).sum()) for s in SPLITS}
    empty = [s for s in SPLITS if not counts[s]]
    if empty:
        raise DataError(f"{origin}: no {', '.join(empty)} pairs left ({cut} cut for length). Fix: use more pairs, "
                        "larger data.*_fraction, or raise data.max_source_len / max_target_len.")
    train = frame[frame["split"] == "train"]
    source_vocab = SideVocabulary.fit(train["source"].tolist(), data.source_level, data.min_count,
                                      data.source_vocab_size)
    target_vocab = SideVocabulary.fit(train["target"].tolist(), data.target_level, data.min_count,
                                      data.target_vocab_size)
    arrays = {}
    for s in SPLITS:
        rows = frame[frame["split"] == s]
        arrays[s] = (source_vocab.encode(rows["source"].tolist(), data.max_source_len),
                     target_array(target_vocab, rows["target"].tolist(), data.max_target_len))
    pairs_table = frame[["split", "source", "target", "group"]].reset_index(drop=True)
    spec = {"task": "seq2seq", "dataset": experiment_key(params), "source_level": data.source_level,
            "target_level": data.target_level, "source_vocab_size": source_vocab.size,
            "target_vocab_size": target_vocab.size, "max_source_len": data.max_source_len,
            "target_len": data.max_target_len + 1, "lowercase": data.lowercase, "pairs": counts, "cut_for_length": int(cut),
            "source_sha256": sha, "origin": origin}
    prepared = PreparedPairs(spec, source_vocab, target_vocab, arrays, pairs_table)
    stats = {**{k: spec[k] for k in ("dataset", "source_sha256", "origin", "source_level", "target_level",
                                     "source_vocab_size", "target_vocab_size", "pairs", "cut_for_length")},
             "groups": {s: {str(k): int(v) for k, v in frame.loc[frame["split"] == s, "group"].value_counts()
                            .sort_index().items()} for s in SPLITS},
             "unknown_share": {s: {"source": _share(arrays[s][0], UNK), "target": _share(arrays[s][1], UNK)}
                               for s in SPLITS}}
    lengths = pd.DataFrame({"split": pairs_table["split"],
                            "source_tokens": (np.concatenate([arrays[s][0] for s in SPLITS]) != 0).sum(axis=1),
                            "target_tokens": (np.concatenate([arrays[s][1] for s in SPLITS]) > 3).sum(axis=1)})
    return Prepared(prepared, stats, {"lengths.csv": lengths}, origin)


def _share(ids: np.ndarray, token: int) -> float:
    real = ids != 0
    return round(float((ids == token).sum() / max(real.sum(), 1)), 6)


def describe(prep: Prepared, out: Path) -> str:
    s = prep.stats
    return (f"{s['dataset']}: pairs {s['pairs']} ({s['cut_for_length']} cut for length), vocabularies "
            f"{s['source_vocab_size']} source {s['source_level']}s / {s['target_vocab_size']} target "
            f"{s['target_level']}s, unknown share of test sources {s['unknown_share']['test']['source']:.4%} -> {out}")


def write(prep: Prepared, out_dir: Path, stats_path: Path, plots_dir: Path) -> None:
    """Write every output into the (temporary) paths given; see rnnops.atomic for the commit."""
    prep.data.write(out_dir)
    stats_path.write_text(json.dumps(prep.stats, indent=2, ensure_ascii=False) + "\n")
    plots_dir.mkdir(parents=True)
    for name, table in prep.plots.items():
        table.to_csv(plots_dir / name, index=False)


def log_to_mlflow(prep: Prepared, out_dir: Path, stats_path: Path, plots_dir: Path) -> None:
    import mlflow

    from rnnops.tracking.runs import log_dataset_input, log_metrics_tree

    mlflow.set_tag("data.sha256", prep.stats["source_sha256"])
    log_dataset_input(prep.data.dataset, prep.origin, prep.stats["source_sha256"], "source")
    log_metrics_tree({k: prep.stats[k] for k in ("pairs", "cut_for_length", "unknown_share",
                                                 "source_vocab_size", "target_vocab_size")})
    mlflow.log_artifacts(str(plots_dir), "plots")
    for name in ("spec.json", "vocabulary.json"):
        mlflow.log_artifact(str(out_dir / name), "prepared")
    mlflow.log_artifact(str(stats_path), "stats")
