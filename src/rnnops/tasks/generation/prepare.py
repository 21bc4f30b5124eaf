"""The generation task's prepare part: read the documents, split them whole (seeded), fit the
vocabulary on the training documents only, and turn each split into one token stream. The
format it writes is `rnnops.tasks.generation.prepared`'s."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnnops.errors import DataError
from rnnops.tasks.generation.corpus import SPLITS, load_corpus
from rnnops.tasks.generation.params import GenerationParams, dataset_name
from rnnops.tasks.generation.prepared import PreparedCorpus, load  # noqa: F401 - load: a part
from rnnops.tasks.generation.vocabulary import UNK, Vocabulary


@dataclass
class Prepared:
    data: PreparedCorpus
    stats: dict                        # data/stats.json (facts; not a DVC metric)
    plots: dict[str, pd.DataFrame]     # plots/data/*.csv
    origin: str


def experiment_key(params: GenerationParams) -> str:
    """MLflow experiment rnnops-generation-<dataset>-<level>; also the registered model's name."""
    return f"generation-{dataset_name(params.data)}"


def run_params(params: GenerationParams) -> dict:
    return {"seed": params.seed, "data": params.data.model_dump()}


def prepare(params: GenerationParams) -> Prepared:
    data = params.data
    corpus = load_corpus(data, params.seed)
    vocabulary = Vocabulary.fit(corpus.documents["train"], data.level, data.lowercase, data.strip_html,
                                data.min_count, data.vocab_size)
    streams = {s: vocabulary.stream(corpus.documents[s]) for s in SPLITS}
    need = params.longest_window() + 1
    short = {s: len(streams[s]) for s in SPLITS if len(streams[s]) < need}
    if short:
        raise DataError(f"{corpus.origin}: the {', '.join(f'{s} split has {n} tokens' for s, n in short.items())}; "
                        f"a window needs {need} (train.seq_len or the tune space's largest, plus one). Fix: use "
                        "more documents (data.subsample, data.*_fraction) or a shorter train.seq_len.")
    if "ngram" in params.baselines.models and len(vocabulary) ** max(params.baselines.ngram.orders) >= 2 ** 63:
        raise DataError(f"baselines.ngram.orders reaches {max(params.baselines.ngram.orders)}, but with a vocabulary "
                        f"of {len(vocabulary)} tokens an n-gram key that long does not fit 64 bits. Fix: lower the "
                        "largest order (or data.vocab_size).")
    spec = {"task": "generation", "dataset": experiment_key(params), "level": data.level,
            "vocab_size": len(vocabulary), "source_sha256": corpus.sha256, "origin": corpus.origin,
            "documents": {s: len(corpus.documents[s]) for s in SPLITS},
            "tokens": {s: int(len(streams[s])) for s in SPLITS}}
    prepared = PreparedCorpus(spec, vocabulary, streams, corpus.documents)
    stats = {**{k: spec[k] for k in ("dataset", "source_sha256", "origin", "level", "vocab_size", "documents",
                                     "tokens")},
             "dropped_empty": corpus.dropped_empty,
             "unknown_share": {s: round(float(np.mean(streams[s] == UNK)), 6) for s in SPLITS}}
    lengths = pd.DataFrame({"split": [s for s in SPLITS for _ in corpus.documents[s]],
                            "tokens": [len(vocabulary.encode(d)) for s in SPLITS for d in corpus.documents[s]]})
    return Prepared(prepared, stats, {"lengths.csv": lengths}, corpus.origin)


def describe(prep: Prepared, out: Path) -> str:
    s = prep.stats
    return (f"{s['dataset']}: documents {s['documents']}, tokens {s['tokens']}, vocabulary {s['vocab_size']} "
            f"({s['level']}s), unknown share of test {s['unknown_share']['test']:.4%} -> {out}")


def write(prep: Prepared, out_dir: Path, stats_path: Path, plots_dir: Path) -> None:
    """Write every output into the (temporary) paths given; see rnnops.atomic for the commit."""
    prep.data.write(out_dir)
    stats_path.write_text(json.dumps(prep.stats, indent=2) + "\n")
    plots_dir.mkdir(parents=True)
    for name, table in prep.plots.items():
        table.to_csv(plots_dir / name, index=False)


def log_to_mlflow(prep: Prepared, out_dir: Path, stats_path: Path, plots_dir: Path) -> None:
    import mlflow

    from rnnops.tracking.runs import log_dataset_input, log_metrics_tree

    mlflow.set_tag("data.sha256", prep.stats["source_sha256"])
    log_dataset_input(prep.data.dataset, prep.origin, prep.stats["source_sha256"], "source")
    log_metrics_tree({k: prep.stats[k] for k in ("documents", "tokens", "unknown_share", "vocab_size")})
    mlflow.log_artifacts(str(plots_dir), "plots")
    mlflow.log_artifact(str(out_dir / "spec.json"), "prepared")
    mlflow.log_artifact(str(out_dir / "vocabulary.json"), "prepared")
    mlflow.log_artifact(str(stats_path), "stats")
