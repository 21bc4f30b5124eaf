"""The seq2seq task's train part: teacher forcing through the shared loop (rnnops.training.fit:
the decoder reads <s> + target and learns target + </s>, padding masked), then the val and test
sources decoded greedily and with the beam (params.decoding) and scored against the references.
The predictions are kept (predictions.parquet), so evaluate reads members' outputs rather than
decoding them again."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from rnnops.models.bodies import DatasetSpec
from rnnops.models.keras_io import save_keras
from rnnops.project import flatten, sha256_file
from rnnops.tasks.seq2seq.metrics import SCORES, translation_scores
from rnnops.tasks.seq2seq.params import Seq2SeqParams
from rnnops.tasks.seq2seq.prepared import PreparedPairs
from rnnops.training.fit import FitResult, facts, fit_model, history_by_epoch  # noqa: F401 - facts: a part

SPLITS = ("val", "test")


def fit_inputs(params: Seq2SeqParams, prepared: PreparedPairs):
    s = prepared.spec
    spec = DatasetSpec(vocab_size=s["source_vocab_size"], num_classes=s["target_vocab_size"],
                       max_len=s["max_source_len"], target_len=s["target_len"])
    return spec, prepared.arrays, None


def decode_splits(model, params: Seq2SeqParams, prepared: PreparedPairs) -> dict[str, pd.DataFrame]:
    """split -> source, reference, greedy, beam (texts) and the beam's score: one model's outputs."""
    from rnnops.tasks.seq2seq.decoding import Decoder
    from rnnops.tasks.seq2seq.translate import translate

    decoder = Decoder.from_keras(model)
    out = {}
    for split in SPLITS:
        sources, references = prepared.texts(split)
        common = dict(decoders=[decoder], weights=[1.0], source_vocabulary=prepared.source_vocabulary,
                      target_vocabulary=prepared.target_vocabulary, sources=sources,
                      max_source_len=prepared.spec["max_source_len"], max_len=params.max_decode_len(),
                      batch_size=params.decoding.batch_size)
        greedy = translate(**common)
        beam = translate(**common, beam_width=params.decoding.beam_width,
                         length_penalty=params.decoding.length_penalty) if params.decoding.beam_width > 1 else greedy
        out[split] = pd.DataFrame({"source": sources, "reference": references, "greedy": greedy.texts,
                                   "beam": beam.texts, "beam_score": beam.scores})
    return out


def split_scores(frame: pd.DataFrame, level: str) -> dict:
    """The beam's scores, plus greedy decoding's exact match (what the beam adds)."""
    beam = translation_scores(frame["beam"].tolist(), frame["reference"].tolist(), level)
    greedy = translation_scores(frame["greedy"].tolist(), frame["reference"].tolist(), level)
    return {**beam, "greedy_exact_match": greedy["exact_match"]}


def train(params: Seq2SeqParams, name: str, prepared: PreparedPairs) -> FitResult:
    arch, model_params = params.model(name)
    spec, arrays, _ = fit_inputs(params, prepared)
    result = fit_model(arch, model_params, params.train, spec, arrays, params.seed)
    result.outputs = decode_splits(result.model, params, prepared)
    result.max_decode_len, result.decoding = params.max_decode_len(), params.decoding
    level = prepared.spec["target_level"]
    for split in SPLITS:  # teacher-forced loss and accuracy from the loop, decoded scores here
        result.metrics[split] = {**{f"teacher_forced_{k}": v for k, v in result.metrics[split].items()},
                                 **split_scores(result.outputs[split], level)}
    return result


def run_params(params: Seq2SeqParams, name: str, prepared: PreparedPairs) -> dict:
    arch, model_params = params.model(name)
    return flatten({"seed": params.seed, "architecture": arch, "train": params.train.model_dump(),
                    "decoding": params.decoding.model_dump(),
                    "models": {name: model_params.model_dump(exclude={"architecture"})},
                    "dataset": {k: prepared.spec[k] for k in ("dataset", "source_vocab_size", "target_vocab_size")}})


def tags(prepared: PreparedPairs) -> dict:
    return {"data.sha256": prepared.spec["source_sha256"]}


def scores(result: FitResult) -> dict:
    """metrics/train/<name>.json: the same keys in every seq2seq metrics file."""
    keys = (*SCORES, "greedy_exact_match")
    return {s: {k: round(float(result.metrics[s][k]), 5) for k in keys} for s in SPLITS}


def describe(name: str, scores: dict, facts: dict) -> str:
    v, t = scores["val"], scores["test"]
    return (f"train@{name}: val exact match {v['exact_match']:.4f}, test exact match {t['exact_match']:.4f} "
            f"(greedy {t['greedy_exact_match']:.4f}), CER {t['cer']:.4f}, chrF {t['chrf']:.2f}, "
            f"{facts['samples_per_second']:.0f} pairs/s")


def write(result: FitResult, prepared: PreparedPairs, metrics: dict, model_dir: Path, metrics_path: Path,
          plot_path: Path) -> None:
    """model.keras (source and target_in ids in, next-token probabilities at every step out),
    predictions.parquet (val and test: greedy and beam outputs), metrics, history."""
    model_dir.mkdir(parents=True, exist_ok=True)
    save_keras(result.model, model_dir / "model.keras")
    frames = [f.assign(split=s) for s, f in result.outputs.items()]
    pd.concat(frames, ignore_index=True).to_parquet(model_dir / "predictions.parquet", index=False)
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
    history_by_epoch(result).to_csv(plot_path, index=False, float_format="%.6g")


def attention_figures(decoder, prepared: PreparedPairs, max_len: int, folder: Path, count: int) -> list[Path]:
    """Heatmaps (source tokens x target tokens) of the first `count` test examples; none for a
    model without attention."""
    from rnnops import plots
    from rnnops.tasks.seq2seq.translate import translate

    if not count:
        return []
    sources = example_sources(prepared, count)
    out = translate([decoder], [1.0], prepared.source_vocabulary, prepared.target_vocabulary,
                    sources, prepared.spec["max_source_len"], max_len)
    if out.attention is None:
        return []
    paths = []
    for i, (weights, text) in enumerate(zip(out.attention, out.texts)):
        targets = prepared.target_vocabulary.tokens(text) + ["</s>"]
        path = folder / f"attention_{i + 1:02d}.png"
        plots.attention_map(np.asarray(weights)[: len(targets), : len(out.source_tokens[i])],
                            out.source_tokens[i], targets[: len(weights)], path)
        paths.append(path)
    return paths


def example_sources(prepared: PreparedPairs, count: int) -> list[str]:
    """Test sources spread over lengths: the short, the long and between (fixed, so runs compare)."""
    sources, _ = prepared.texts("test")
    order = np.argsort([len(s) for s in sources], kind="stable")
    picks = np.linspace(0, len(order) - 1, num=min(count, len(order))).round().astype(int)
    return [sources[order[i]] for i in picks]


def log_to_mlflow(result: FitResult, prepared: PreparedPairs, metrics: dict, training: dict, model_dir: Path,
                  metrics_path: Path, plot_path: Path) -> dict:
    """Scores and facts, curves, attention maps, a table of test translations, the Keras model and
    this one model's translator pyfunc (source texts in, target texts out); returns run.json."""
    import tempfile

    import mlflow

    from rnnops import plots
    from rnnops.tasks.seq2seq.decoding import Decoder
    from rnnops.tasks.seq2seq.publish import log_translator
    from rnnops.tracking.logged_models import log_keras_model
    from rnnops.tracking.runs import log_metrics_tree

    log_metrics_tree({**metrics, **{k: v for k, v in training.items() if k not in ("model", "architecture")}})
    with tempfile.TemporaryDirectory() as tmp:
        plots.training_curves(history_by_epoch(result), Path(tmp) / "training_curves.png", ("loss", "accuracy"))
        attention_figures(Decoder.from_keras(result.model), prepared, result.max_decode_len, Path(tmp), 4)
        mlflow.log_artifacts(tmp, "plots")
    mlflow.log_table(result.outputs["test"].head(200), "predictions/test_head.json")
    mlflow.log_artifact(str(plot_path), "history")
    mlflow.log_artifact(str(metrics_path), "metrics")
    example = {"source": prepared.arrays["val"][0][:2], "target_in": prepared.arrays["val"][1][:2, :-1]}
    model_info = log_keras_model(result.model, "model", example)
    translator = log_translator({training["model"]: 1.0}, {training["model"]: model_dir}, prepared, "translator",
                                result.decoding)
    run = mlflow.active_run()
    return {
        "run_id": run.info.run_id, "experiment_id": run.info.experiment_id,
        "tracking_uri": mlflow.get_tracking_uri(), "model_uri": model_info.model_uri,
        "translator_uri": translator.model_uri, "training": training,
        "sha256": {f: sha256_file(model_dir / f) for f in ("model.keras", "predictions.parquet")},
    }
