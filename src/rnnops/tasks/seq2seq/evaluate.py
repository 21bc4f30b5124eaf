"""The seq2seq task's evaluate part: every trained encoder-decoder (its stored beam outputs), the
translation-memory peer, and a greedy ensemble whose members' step distributions are averaged
inside the beam search, chosen on validation exact match (chrF breaks ties) and scored once on
test; exact match by source length and by seen / held-out format; the winner saved as a pyfunc,
checked end to end (the saved pyfunc must reproduce its test outputs exactly) and registered.

The peer cannot be served inside a beam (it has no step distribution), so it is reported beside
the candidates but never the winner."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rnnops.errors import DataError
from rnnops.tasks.seq2seq.metrics import by_group, length_bins, translation_scores
from rnnops.tasks.seq2seq.prepared import PreparedPairs

SPLITS = ("val", "test")
PEER = "memory"


@dataclass
class Evaluation:
    outputs: dict[str, dict[str, list[str]]]    # candidate -> split -> output texts
    weights: dict[str, dict[str, float]]        # candidate -> members' weights ({} for the peer)
    scores: dict                                # candidate -> {val, test, test_by_length, test_by_group}
    winner: str
    split_sha256: str
    decoders: dict = field(default_factory=dict)  # member -> Decoder (loaded once)


def selection_key(s: dict) -> tuple[float, float]:
    return (s["exact_match"], s["chrf"])


def load_member_outputs(names: list[str], models_dir: Path, prepared: PreparedPairs) -> dict:
    outputs = {}
    for name in names:
        path = models_dir / name / "predictions.parquet"
        if not path.is_file():
            raise DataError(f"{path}: missing. Fix: train the model first (`dvc repro train@{name}`).")
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: unreadable ({exc}). Fix: retrain it (`dvc repro -f train@{name}`).") from None
        outputs[name] = {}
        for split in SPLITS:
            rows = frame[frame["split"] == split]
            if rows["source"].tolist() != prepared.texts(split)[0]:
                raise DataError(f"{models_dir / name} was decoded on other prepared data. Fix: `dvc repro` retrains it.")
            outputs[name][split] = rows["beam"].tolist()
    return outputs


def decode_with(decoders: dict, weights: dict[str, float], params, prepared: PreparedPairs, split: str) -> list[str]:
    from rnnops.tasks.seq2seq.translate import translate

    sources, _ = prepared.texts(split)
    out = translate([decoders[n] for n in weights], list(weights.values()), prepared.source_vocabulary,
                    prepared.target_vocabulary, sources, prepared.spec["max_source_len"], params.max_decode_len(),
                    params.decoding.beam_width, params.decoding.length_penalty, params.decoding.batch_size)
    return out.texts


def greedy_ensemble(names: list[str], outputs: dict, decoders: dict, params, prepared: PreparedPairs):
    """Caruana's forward selection with replacement on validation exact match, each candidate
    mixture decoded with the beam (members' probabilities averaged per step). Returns (weights,
    its val outputs)."""
    level, refs = prepared.spec["target_level"], prepared.texts("val")[1]

    def rate(texts):
        return selection_key(translation_scores(texts, refs, level))

    first = max(names, key=lambda n: rate(outputs[n]["val"]))  # ties: the first listed
    counts = dict.fromkeys(names, 0)
    counts[first] = 1
    best, best_counts, best_texts = rate(outputs[first]["val"]), dict(counts), outputs[first]["val"]
    for size in range(2, params.evaluate.ensemble_size + 1):
        tried = []
        for i, name in enumerate(names):
            trial = {**counts, name: counts[name] + 1}
            weights = {n: c / size for n, c in trial.items() if c}
            texts = decode_with(decoders, weights, params, prepared, "val")
            tried.append((rate(texts), -i, name, texts))
        value, _, chosen, texts = max(tried, key=lambda t: (t[0], t[1]))
        counts[chosen] += 1
        if value > best:
            best, best_counts, best_texts = value, dict(counts), texts
    used = sum(best_counts.values())
    return {n: c / used for n, c in best_counts.items() if c}, best_texts


def evaluate(params, prepared: PreparedPairs, names: list[str], models_dir: Path) -> Evaluation:
    from rnnops.models.keras_io import load_keras_model
    from rnnops.tasks.seq2seq.baselines import TranslationMemory
    from rnnops.tasks.seq2seq.decoding import Decoder

    outputs = load_member_outputs(names, models_dir, prepared)
    weights = {n: {n: 1.0} for n in names}
    decoders = {n: Decoder.from_keras(load_keras_model(models_dir / n / "model.keras")) for n in names}
    if len(names) > 1 and params.evaluate.ensemble_size > 1:
        chosen, val_texts = greedy_ensemble(names, outputs, decoders, params, prepared)
        if len(chosen) > 1:  # a one-member "ensemble" is that member: nothing to add
            weights["greedy"] = chosen
            outputs["greedy"] = {"val": val_texts, "test": decode_with(decoders, chosen, params, prepared, "test")}
    if PEER in params.baselines.models:
        train_sources, train_targets = prepared.texts("train")
        memory = TranslationMemory(train_sources, train_targets)
        outputs[PEER] = {s: memory.translate(prepared.texts(s)[0]) for s in SPLITS}
        weights[PEER] = {}
    level = prepared.spec["target_level"]
    test_sources, test_refs = prepared.texts("test")
    lengths = length_bins([len(prepared.source_vocabulary.tokens(s)) for s in test_sources])
    scores = {}
    for name, texts in outputs.items():
        scores[name] = {s: translation_scores(texts[s], prepared.texts(s)[1], level) for s in SPLITS}
        scores[name]["test_by_length"] = by_group(texts["test"], test_refs, lengths, level)
        scores[name]["test_by_group"] = by_group(texts["test"], test_refs, prepared.groups("test"), level)
    neural = [n for n in outputs if n != PEER]
    # The best validation exact match (chrF on a tie); on a full tie the earlier (a single model first):
    # max() keeps the first of equal keys.
    winner = max(neural, key=lambda n: selection_key(scores[n]["val"]))
    test_bytes = "\n".join(f"{s}\t{t}" for s, t in zip(test_sources, test_refs)).encode()
    digest = hashlib.sha256(prepared.spec["origin"].encode() + b"\n" + test_bytes).hexdigest()
    return Evaluation(outputs, weights, scores, winner, digest, decoders)


def quality(candidate: dict) -> dict:
    return {s: {k: round(candidate[s][k], 5) for k in ("exact_match", "cer", "chrf", "bleu")} for s in SPLITS}


def end_to_end(model, prepared: PreparedPairs, expected: list[str], options: dict) -> dict:
    """The saved pyfunc (its own members, loaded as a user would) translates the test sources:
    it must give exactly the outputs scored here."""
    sources, _ = prepared.texts("test")
    served = model.predict(pd.DataFrame({"source": sources}), params=options)["target"].tolist()
    differ = sum(a != b for a, b in zip(served, expected))
    if differ or len(served) != len(expected):
        raise DataError(f"evaluate: the saved model translates {differ} of {len(expected)} test sources differently "
                        "from the evaluation. Fix: rerun `dvc repro -f seq2seq/dvc.yaml`.")
    return {"test_pairs": len(served), "identical": True}


def register(params, prepared: PreparedPairs, result: Evaluation, models_dir: Path) -> dict:
    """Log the winner's pyfunc, register it as rnnops-<dataset>, move `champion` only if its
    test exact match is higher on the same test split."""
    from rnnops.tasks.seq2seq.publish import log_translator
    from rnnops.tracking import registry

    name = registry.registered_model_name(prepared.dataset)
    weights = result.weights[result.winner]
    info = log_translator(weights, {n: models_dir / n for n in weights}, prepared, "winner", params.decoding, name)
    value = result.scores[result.winner]["test"]["exact_match"]
    decision = registry.promote(name, str(info.registered_model_version), "exact_match", value, result.split_sha256)
    return registry.recorded(decision, info.model_uri, result.winner)


def run(params, prepared: PreparedPairs, result: Evaluation, models_dir: Path, metrics_path: Path,
        candidates_dir: Path, evaluation_dir: Path, plots_dir: Path) -> dict:
    """Write every output atomically (metrics/evaluate.json; one metrics file per ensemble and
    peer; evaluation/ with the winner's pyfunc, test outputs and attention maps; plot tables),
    log, register."""
    import mlflow

    from rnnops import atomic
    from rnnops.tasks.seq2seq.publish import options, save_translator
    from rnnops.tasks.seq2seq.train import attention_figures
    from rnnops.tracking import registry

    winner_scores, weights = result.scores[result.winner], result.weights[result.winner]
    metrics = {**quality(winner_scores), "promote_metric": "test.exact_match",
               "test_split_sha256": result.split_sha256}
    dirs = {n: models_dir / n for n in weights}
    with registry.undone_on_failure() as decision:
        with atomic.staged_outputs(metrics_path, candidates_dir, evaluation_dir, plots_dir) as (
                metrics_tmp, candidates, folder, plots):
            for directory in (candidates, folder, plots, folder / "attention"):
                directory.mkdir()
            metrics_tmp.write_text(json.dumps(metrics, indent=2) + "\n")
            for name in [n for n in (PEER, "greedy") if n in result.scores]:
                (candidates / f"{name}.json").write_text(json.dumps(quality(result.scores[name]), indent=2) + "\n")
            files = save_translator(weights, dirs, prepared, folder / "model", params.decoding)
            served = mlflow.pyfunc.load_model(str(folder / "model"))
            checked = end_to_end(served, prepared, result.outputs[result.winner]["test"], options(params.decoding))
            sources, refs = prepared.texts("test")
            pd.DataFrame({"source": sources, "reference": refs, "output": result.outputs[result.winner]["test"],
                          "group": prepared.groups("test")}).to_parquet(folder / "test_outputs.parquet", index=False)
            first = next(iter(weights))  # attention maps: the winner's first member
            maps = attention_figures(result.decoders[first], prepared, params.max_decode_len(),
                                     folder / "attention", params.evaluate.attention_examples)
            winner = {"winner": result.winner, "selection_metric": "val.exact_match (val.chrf on a tie)",
                      "weights": weights, "end_to_end": checked, "attention_maps": [p.name for p in maps],
                      "model": {"path": (evaluation_dir / "model").as_posix(), "files": files}}
            (folder / "winner.json").write_text(json.dumps(winner, indent=2) + "\n")
            (folder / "details.json").write_text(json.dumps({"scores": result.scores, "weights": result.weights},
                                                            indent=2) + "\n")
            write_tables(result, plots)
            log_to_mlflow(result, [metrics_tmp, folder / "winner.json", folder / "details.json"], folder / "attention")
            if params.evaluate.registry:
                decision.update(register(params, prepared, result, models_dir))
            shown = {k: v for k, v in decision.items() if k != "previous_aliases"}
            (folder / "registry.json").write_text(json.dumps(shown, indent=2) + "\n")
    return dict(decision)


def write_tables(result: Evaluation, plots: Path) -> None:
    """plots/evaluate/candidates.csv (exact match per candidate and split) and by_length.csv
    (test exact match per source-length bin: where attention matters)."""
    pd.DataFrame([{"candidate": n, "split": s, "exact_match": round(c[s]["exact_match"], 5)}
                  for n, c in result.scores.items() for s in SPLITS]).to_csv(plots / "candidates.csv", index=False)
    pd.DataFrame([{"candidate": n, "source_tokens": b, "pairs": v["pairs"], "exact_match": round(v["exact_match"], 5)}
                  for n, c in result.scores.items() for b, v in c["test_by_length"].items()]).to_csv(
        plots / "by_length.csv", index=False)


def log_to_mlflow(result: Evaluation, paths: list[Path], attention_dir: Path) -> None:
    import mlflow

    from rnnops.tracking.runs import log_metrics_tree

    log_metrics_tree({"winner_test": quality(result.scores[result.winner])["test"],
                      "models": {name: quality(s) for name, s in result.scores.items()}})
    mlflow.set_tags({"rnnops.winner": result.winner, "rnnops.winner_weights": json.dumps(result.weights[result.winner])})
    for path in paths:
        mlflow.log_artifact(str(path), "outputs")
    if any(attention_dir.iterdir()):
        mlflow.log_artifacts(str(attention_dir), "attention")


def describe(result: Evaluation, decision: dict) -> str:
    test = result.scores[result.winner]["test"]
    peer = result.scores.get(PEER, {}).get("test", {}).get("exact_match")
    versus = f"; translation-memory peer {peer:.4f}" if peer is not None else ""
    return (f"evaluate: winner {result.winner} {result.weights[result.winner]}: test exact match "
            f"{test['exact_match']:.4f}, CER {test['cer']:.4f}, chrF {test['chrf']:.2f}, BLEU {test['bleu']:.2f}{versus}")
