"""The generation task's evaluate part: every trained language model and the n-gram peer
(interpolated Kneser-Ney, order chosen on validation, fitted on train), their average and a greedy
weighted mixture, chosen on validation bits per token and scored once on test from the same
stored token probabilities; the winner saved as a pyfunc, checked end to end through it (the
served members rescore the test documents) and registered."""
from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rnnops.errors import DataError
from rnnops.scoring.ensemble import Ensemble, greedy_selection
from rnnops.tasks.generation.prepared import PreparedCorpus
from rnnops.tasks.generation.publish import NGRAM
from rnnops.tasks.generation.scoring import bits, lm_scores

SPLITS = ("val", "test")


@dataclass
class Evaluation:
    probabilities: dict[str, dict[str, np.ndarray]]   # candidate member -> split -> p(each token)
    scores: dict                                       # candidate -> weights, val and test scores
    winner: Ensemble
    split_sha256: str
    ngram: object = None                               # the fitted peer (ngram.KneserNey)
    ngram_orders: dict = field(default_factory=dict)   # order -> validation bits per token
    samples: list = field(default_factory=list)        # the winner's samples at the fixed prompts

    def combined(self, candidate: Ensemble, split: str) -> np.ndarray:
        return candidate.combine({n: p[split] for n, p in self.probabilities.items()})


def load_members(names: list[str], models_dir: Path, prepared: PreparedCorpus) -> dict:
    members = {}
    for name in names:
        path = models_dir / name / "token_probs.npz"
        if not path.is_file():
            raise DataError(f"{path}: missing. Fix: train the model first (`dvc repro train@{name}`).")
        try:
            with np.load(path, allow_pickle=False) as npz:
                members[name] = {s: npz[s] for s in SPLITS}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise DataError(f"{path}: unreadable ({type(exc).__name__}: {exc}). Fix: retrain it "
                            f"(`dvc repro -f train@{name}`).") from None
        if any(len(members[name][s]) != len(prepared.streams[s]) - 1 for s in SPLITS):
            raise DataError(f"{models_dir / name} was scored on other prepared data. Fix: `dvc repro` retrains it.")
    return members


def fit_ngram(params, prepared: PreparedCorpus):
    """The peer: each order fitted on train and scored on val; the best order's probabilities."""
    from rnnops.tasks.generation.ngram import KneserNey, choose_order

    streams, vocab = prepared.streams, prepared.spec["vocab_size"]
    order, by_order = choose_order(streams["train"], streams["val"], params.baselines.ngram.orders, vocab)
    model = KneserNey.fit(streams["train"], order, vocab)
    return model, by_order, {s: model.token_probabilities(streams[s]) for s in SPLITS}


def evaluate(params, prepared: PreparedCorpus, names: list[str], models_dir: Path) -> Evaluation:
    probabilities = load_members(names, models_dir, prepared)
    ngram, orders = None, {}
    if NGRAM in params.baselines.models:
        ngram, orders, probabilities[NGRAM] = fit_ngram(params, prepared)

    def val_score(_, p):  # higher is better for the selection code
        return -bits(p)

    val = {n: p["val"] for n, p in probabilities.items()}
    cands = [Ensemble(n, {n: 1.0}) for n in probabilities] + [
        Ensemble("average", {n: 1.0 / len(probabilities) for n in probabilities}),
        greedy_selection(np.zeros(0), val, "bits_per_token", params.evaluate.ensemble_size, val_score)]
    # The lowest validation bits; on a tie the earlier candidate (a single model before an ensemble).
    winner = max(reversed(cands), key=lambda c: val_score(None, c.combine(val)))
    scores = {c.name: {"weights": c.weights, **{s: lm_scores(c.combine({n: p[s] for n, p in probabilities.items()}))
                                                for s in SPLITS}} for c in cands}
    digest = hashlib.sha256(prepared.spec["origin"].encode() + b"\n" + prepared.streams["test"].tobytes()).hexdigest()
    return Evaluation(probabilities, scores, winner, digest, ngram, orders)


def quality(candidate: dict) -> dict:
    return {s: {k: round(candidate[s][k], 5) for k in ("bits_per_token", "perplexity")} for s in SPLITS}


def end_to_end(model, prepared: PreparedCorpus, expected_bits: float) -> dict:
    """The saved pyfunc `model` (its own members, loaded as a user would) rescores the test
    documents: it must give the test bits per token reported here."""
    served = bits(model.unwrap_python_model().token_probabilities(prepared.documents["test"]))
    if abs(served - expected_bits) > 1e-4:
        raise DataError(f"evaluate: the served model scores the test documents at {served:.6f} bits per token, "
                        f"the evaluation at {expected_bits:.6f}. Fix: rerun `dvc repro -f generation/dvc.yaml`.")
    return {"test_bits_per_token": round(served, 6), "difference": abs(served - expected_bits)}


def winner_samples(model, params) -> list[dict]:
    rows = []
    for temperature in params.sampling.temperatures:
        out = model.predict(pd.DataFrame({"prompt": params.sampling.prompts}),
                            params={"max_tokens": params.sampling.max_tokens, "temperature": temperature,
                                    "seed": params.seed})
        rows += [{"prompt": p, "temperature": temperature, "text": t} for p, t in zip(out["prompt"], out["text"])]
    return rows


def register(prepared: PreparedCorpus, result: Evaluation, models_dir: Path, ngram_path: Path) -> dict:
    """Log the winner's pyfunc, register it as rnnops-<dataset>, move `champion` only if its
    test bits per token are lower on the same test split."""
    from rnnops.tasks.generation.publish import log_generator
    from rnnops.tracking import registry

    name = registry.registered_model_name(prepared.dataset)
    dirs = {n: models_dir / n for n in result.winner.weights if n != NGRAM}
    info = log_generator(result.winner.weights, dirs, ngram_path, prepared, "winner", name)
    value = result.scores[result.winner.name]["test"]["bits_per_token"]
    decision = registry.promote(name, str(info.registered_model_version), "bits_per_token", value,
                                result.split_sha256, higher_is_better=False)
    return registry.recorded(decision, info.model_uri, result.winner.name)


def run(params, prepared: PreparedCorpus, result: Evaluation, models_dir: Path, metrics_path: Path,
        candidates_dir: Path, evaluation_dir: Path, plots_dir: Path) -> dict:
    """Write every output atomically (metrics/evaluate.json; one metrics file per ensemble and
    peer; evaluation/ with the winner's pyfunc and samples; plot table), log, register."""
    import mlflow

    from rnnops import atomic
    from rnnops.tasks.generation.publish import save_generator
    from rnnops.tracking import registry

    winner_scores = result.scores[result.winner.name]
    metrics = {**quality(winner_scores), "promote_metric": "test.bits_per_token",
               "test_split_sha256": result.split_sha256}
    dirs = {n: models_dir / n for n in result.winner.weights if n != NGRAM}
    with registry.undone_on_failure() as decision:
        with atomic.staged_outputs(metrics_path, candidates_dir, evaluation_dir, plots_dir) as (
                metrics_tmp, candidates, folder, plots):
            for directory in (candidates, folder, plots):
                directory.mkdir()
            metrics_tmp.write_text(json.dumps(metrics, indent=2) + "\n")
            for name in [n for n in (NGRAM, "average", "greedy") if n in result.scores]:
                (candidates / f"{name}.json").write_text(json.dumps(quality(result.scores[name]), indent=2) + "\n")
            ngram_path = None
            if result.ngram is not None:
                ngram_path = folder / "ngram.npz"
                result.ngram.save(ngram_path)
            files = save_generator(result.winner.weights, dirs, ngram_path, prepared, folder / "model")
            served = mlflow.pyfunc.load_model(str(folder / "model"))  # once: the check and the samples
            checked = end_to_end(served, prepared, winner_scores["test"]["bits_per_token"])
            result.samples = winner_samples(served, params)
            winner = {"winner": result.winner.name, "selection_metric": "val.bits_per_token",
                      "weights": result.winner.weights, "end_to_end": checked,
                      "ngram_order_bits": result.ngram_orders,
                      "model": {"path": (evaluation_dir / "model").as_posix(), "files": files}}
            (folder / "winner.json").write_text(json.dumps(winner, indent=2) + "\n")
            (folder / "details.json").write_text(json.dumps({"scores": result.scores}, indent=2) + "\n")
            (folder / "samples.json").write_text(json.dumps(result.samples, indent=2, ensure_ascii=False) + "\n")
            table = pd.DataFrame([{"candidate": n, "split": s, "bits_per_token": round(c[s]["bits_per_token"], 5)}
                                  for n, c in result.scores.items() for s in SPLITS])
            table.to_csv(plots / "candidates.csv", index=False)
            log_to_mlflow(result, [metrics_tmp, folder / "winner.json", folder / "details.json",
                                   folder / "samples.json"])
            if params.evaluate.registry:
                decision.update(register(prepared, result, models_dir, ngram_path))
            shown = {k: v for k, v in decision.items() if k != "previous_aliases"}
            (folder / "registry.json").write_text(json.dumps(shown, indent=2) + "\n")
    return dict(decision)


def log_to_mlflow(result: Evaluation, paths: list[Path]) -> None:
    import mlflow

    from rnnops.tracking.runs import log_metrics_tree

    log_metrics_tree({"winner_test": quality(result.scores[result.winner.name])["test"],
                      "models": {name: quality(s) for name, s in result.scores.items()}})
    mlflow.set_tags({"rnnops.winner": result.winner.name, "rnnops.winner_weights": json.dumps(result.winner.weights)})
    for path in paths:
        mlflow.log_artifact(str(path), "outputs")
    with tempfile.TemporaryDirectory() as tmp:
        from rnnops.tasks.generation.train import samples_text

        (Path(tmp) / "winner.txt").write_text(samples_text(result.samples), encoding="utf-8")
        mlflow.log_artifacts(tmp, "samples")


def describe(result: Evaluation, decision: dict) -> str:
    test = result.scores[result.winner.name]["test"]
    peer = result.scores.get(NGRAM, {}).get("test", {}).get("bits_per_token")
    versus = f"; n-gram peer {peer:.4f}" if peer is not None else ""
    return (f"evaluate: winner {result.winner.name} {result.winner.weights}: test {test['bits_per_token']:.4f} "
            f"bits/token (perplexity {test['perplexity']:.3f}){versus}")
