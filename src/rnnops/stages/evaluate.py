"""The evaluate stage: every trained model and two ensembles, chosen on validation only, scored
once on test, the winner checked end to end from raw texts and (optionally) registered."""
from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnnops.data.batches import as_class_probabilities
from rnnops.data.prepared import PreparedData
from rnnops.data.splits import selection_labels
from rnnops.errors import DataError
from rnnops.models.keras_io import load_keras_model
from rnnops.scoring.ensemble import Ensemble, greedy_selection, score, soft_vote
from rnnops.scoring.metrics import classification_metrics, evaluation_metrics


@dataclass
class Member:
    name: str
    directory: Path
    proba: dict[str, np.ndarray]  # split -> [n, classes]
    run: dict                     # run.json


def load_members(names: list[str], models_dir: Path, y_val: np.ndarray, y_test: np.ndarray,
                 num_classes: int) -> dict[str, Member]:
    members = {}
    for name in names:
        directory = models_dir / name
        path = directory / "probabilities.npz"
        if not path.is_file():
            raise DataError(f"{path}: missing. Fix: train the model first (`dvc repro train@{name}`).")
        try:
            with np.load(path, allow_pickle=False) as npz:
                stored = {k: npz[k] for k in ("val", "test", "y_val", "y_test")}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise DataError(f"{path}: unreadable ({type(exc).__name__}: {exc}). Fix: retrain it "
                            f"(`dvc repro -f train@{name}`) or restore it (`dvc checkout`).") from None
        if not (np.array_equal(stored["y_val"], y_val) and np.array_equal(stored["y_test"], y_test)):
            raise DataError(f"{directory} was trained on other prepared data. Fix: `dvc repro` "
                            "retrains it on the current data.")
        if stored["val"].shape != (len(y_val), num_classes) or stored["test"].shape != (len(y_test), num_classes):
            raise DataError(f"{path}: probabilities of shape {stored['val'].shape} do not fit "
                            f"{num_classes} classes. Fix: retrain it (`dvc repro -f train@{name}`).")
        proba = {"val": stored["val"], "test": stored["test"]}
        members[name] = Member(name, directory, proba, json.loads((directory / "run.json").read_text()))
    return members


def candidates(members: dict[str, Member], y_val: np.ndarray, metric: str, size: int) -> list[Ensemble]:
    """Each member alone, soft voting over all, and greedy selection: all from validation only."""
    val = {name: m.proba["val"] for name, m in members.items()}
    singles = [Ensemble(name, {name: 1.0}) for name in members]
    return singles + [soft_vote(list(members)), greedy_selection(y_val, val, metric, size)]


def choose(cands: list[Ensemble], members: dict[str, Member], y_val: np.ndarray, metric: str) -> Ensemble:
    """The best validation score; on a tie the earlier candidate (a single model before an ensemble)."""
    val = {name: m.proba["val"] for name, m in members.items()}
    return max(reversed(cands), key=lambda c: score(y_val, c.combine(val), metric))


def score_all(cands: list[Ensemble], members: dict[str, Member], y_val, y_test, labels) -> dict:
    out = {}
    for cand in cands:
        val = cand.combine({n: m.proba["val"] for n, m in members.items()})
        test = cand.combine({n: m.proba["test"] for n, m in members.items()})
        out[cand.name] = {"weights": cand.weights, "val": classification_metrics(y_val, val),
                          "test": evaluation_metrics(y_test, test, labels)}
    return out


def end_to_end(winner: Ensemble, members: dict[str, Member], texts: list[str], expected: np.ndarray,
               num_classes: int) -> dict:
    """The winner from raw test texts (each member's text model, tokenizer inside) must give the
    token-id probabilities: same predictions, probabilities within float tolerance."""
    proba = 0.0
    inputs = np.array(texts, dtype=object)
    for name, weight in winner.weights.items():
        model = load_keras_model(members[name].directory / "text_model.keras")
        proba = proba + weight * as_class_probabilities(model.predict(inputs, batch_size=256, verbose=0), num_classes)
    diff = float(np.abs(proba - expected).max())
    same = bool((proba.argmax(axis=1) == expected.argmax(axis=1)).all())
    if not same or diff > 1e-4:
        raise DataError(f"evaluate: the raw-text model disagrees with the token-id model (max "
                        f"probability difference {diff:.2e}); the vectorizer inside text_model.keras "
                        "does not match the prepare stage. Fix: rerun `dvc repro -f prepare` and retrain.")
    return {"predictions_identical": same, "max_probability_difference": diff}


def split_hash(texts: list[str], y: np.ndarray) -> str:
    """Identifies a test split by its raw texts and labels (not by preprocessing)."""
    digest = hashlib.sha256()
    for text, label in zip(texts, y):
        digest.update(f"{int(label)}\t{text}\n".encode("utf-8"))
    return digest.hexdigest()


QUALITY = ("accuracy", "macro_f1", "loss", "roc_auc")


def quality(candidate: dict) -> dict:
    """A candidate's val and test scores, rounded: the same keys in every metrics file, so
    `dvc metrics show` is one short table with a row per file."""
    return {split: {k: round(v, 5) for k, v in candidate[split].items() if k in QUALITY}
            for split in ("val", "test")}


def summary(scores: dict, winner: str, promote_metric: str, split_sha256: str) -> dict:
    """metrics/evaluate.json: the winner's scores, and what a retrain without a tracking server
    compares against main's copy of this file: the promote metric and the test split's sha256."""
    return {**quality(scores[winner]), "promote_metric": f"test.{promote_metric}",
            "test_split_sha256": split_sha256}


def ensemble_scores(scores: dict) -> dict[str, dict]:
    """metrics/ensembles/<name>.json: soft voting and greedy selection, as rows beside the members."""
    return {name: quality(scores[name]) for name in ("soft_vote", "greedy")}


def winner_record(result: "Evaluation", models_dir: Path, labels: list[str], metric: str) -> dict:
    """evaluation/winner.json: which candidate won and the files that make it (each member's raw-
    text model and its sha256, from the run.json the train stage wrote), so a clone filled by
    `dvc pull` can predict without the MLflow store that trained it (`rnnops predict`)."""
    members = {name: {"text_model": (models_dir / name / "text_model.keras").as_posix(),
                      "sha256": result.members[name].run["sha256"]["text_model.keras"]}
               for name in result.winner.weights}
    return {"winner": result.winner.name, "selection_metric": f"val.{metric}",
            "weights": result.winner.weights, "members": members, "labels": labels,
            "end_to_end": result.end_to_end}


def save_model(result: "Evaluation", labels_path: Path, folder: Path, recorded_as: Path) -> dict:
    """evaluation/model: the winner as an MLflow model folder (the same pyfunc the registry gets),
    for `make serve` in a clone filled by `dvc pull` whose tracking store lacks the registered
    model. Returns winner.json's record of it: its path and the sha256 of each of its files."""
    from rnnops.tracking import registry

    files = registry.save_winner(result.winner.weights, {n: m.directory for n, m in result.members.items()},
                                 labels_path, folder)
    return {"path": recorded_as.as_posix(), "files": files}


def plot_tables(y_test: np.ndarray, test_proba: np.ndarray, labels: list[str],
                confusion_path: Path, roc_path: Path) -> None:
    """DVC plots: the winner's test predictions (confusion template) and ROC points."""
    from sklearn.metrics import roc_curve

    pd.DataFrame({"actual": [labels[i] for i in y_test],
                  "predicted": [labels[i] for i in test_proba.argmax(axis=1)]}).to_csv(confusion_path, index=False)
    rows = []
    positives = [1] if len(labels) == 2 else range(len(labels))  # binary: one curve; else one-vs-rest
    for k in positives:
        fpr, tpr, _ = roc_curve(y_test == k, test_proba[:, k])
        rows += [{"class": labels[k], "fpr": f, "tpr": t} for f, t in zip(fpr, tpr)]
    pd.DataFrame(rows).to_csv(roc_path, index=False, float_format="%.6g")


@dataclass
class Evaluation:
    members: dict[str, Member]
    scores: dict            # candidate -> weights, val metrics, test metrics (full)
    winner: Ensemble
    test_proba: np.ndarray  # the winner's
    end_to_end: dict
    split_sha256: str


def evaluate(params, prepared: PreparedData, names: list[str], models_dir: Path) -> Evaluation:
    ev = params.evaluate
    # With K folds the members' "val" is out-of-fold over every training row.
    y_val, y_test = selection_labels(prepared.arrays, params.train.folds), prepared.arrays["test"][1]
    members = load_members(names, models_dir, y_val, y_test, len(prepared.label_names))
    cands = candidates(members, y_val, ev.metric, ev.ensemble_size)
    winner = choose(cands, members, y_val, ev.metric)
    scores = score_all(cands, members, y_val, y_test, prepared.label_names)
    test_proba = winner.combine({n: m.proba["test"] for n, m in members.items()})
    texts = prepared.raw_texts("test")["text"].tolist()
    e2e = end_to_end(winner, members, texts, test_proba, len(prepared.label_names))
    return Evaluation(members, scores, winner, test_proba, e2e, split_hash(texts, y_test))


def log_to_mlflow(evaluation: Evaluation, labels: list[str], y_test: np.ndarray,
                  roc_path: Path, paths: list[Path]) -> None:
    """Every candidate's numbers, the winner's tags, the outputs, and the winner's confusion matrix
    and ROC curve as images, so the run's page shows how good it was."""
    import tempfile

    import mlflow

    from rnnops import plots
    from rnnops.scoring.metrics import confusion
    from rnnops.tracking.runs import log_metrics_tree

    scores = evaluation.scores
    log_metrics_tree({"winner_test": quality(scores[evaluation.winner.name])["test"],
                      "models": {name: quality(s) for name, s in scores.items()}})
    mlflow.set_tags({"rnnops.winner": evaluation.winner.name,
                     "rnnops.winner_weights": json.dumps(evaluation.winner.weights)})
    for path in paths:
        mlflow.log_artifact(str(path), "outputs")
    with tempfile.TemporaryDirectory() as tmp:
        plots.confusion_matrix(confusion(y_test, evaluation.test_proba), labels,
                               Path(tmp) / "confusion_matrix_test.png")
        plots.roc_curves(pd.read_csv(roc_path), Path(tmp) / "roc_test.png")
        mlflow.log_artifacts(tmp, "plots")


def register(params, prepared: PreparedData, result: Evaluation) -> dict:
    """Log the winner as a raw-text model, register it, move `champion` or set `challenger`.
    The returned decision carries what `registry.rollback` needs to undo it."""
    from rnnops.tracking import registry

    name = registry.registered_model_name(prepared.dataset)
    info = registry.log_winner(result.winner.weights, {n: m.directory for n, m in result.members.items()},
                               prepared.directory / "labels.json", name)
    metric = params.evaluate.promote_metric
    value = result.scores[result.winner.name]["test"][metric]
    decision = registry.promote(name, str(info.registered_model_version), metric, value, result.split_sha256)
    return registry.recorded(decision, info.model_uri, result.winner.name)


def run(params, prepared: PreparedData, result: Evaluation, models_dir: Path, metrics_path: Path,
        ensembles_dir: Path, evaluation_dir: Path, plots_dir: Path) -> dict:
    """Write every output (metrics/evaluate.json, metrics/ensembles/, evaluation/, the plot tables
    in plots/evaluate/) atomically, log them, and register the winner; returns the registry
    decision ({} when the registry is off). The registry changes only together with the outputs."""
    from rnnops import atomic, faults
    from rnnops.tracking import registry

    metrics = summary(result.scores, result.winner.name, params.evaluate.promote_metric, result.split_sha256)
    winner = winner_record(result, models_dir, prepared.label_names, params.evaluate.metric)
    y_test = prepared.arrays["test"][1]
    with registry.undone_on_failure() as decision:
        outputs = (metrics_path, ensembles_dir, evaluation_dir, plots_dir)
        with atomic.staged_outputs(*outputs) as (metrics_tmp, ensembles, folder, plots):
            for directory in (folder, ensembles, plots):
                directory.mkdir()
            metrics_tmp.write_text(json.dumps(metrics, indent=2) + "\n")
            for name, scores in ensemble_scores(result.scores).items():
                (ensembles / f"{name}.json").write_text(json.dumps(scores, indent=2) + "\n")
            winner["model"] = save_model(result, prepared.directory / "labels.json", folder / "model",
                                         evaluation_dir / "model")
            (folder / "winner.json").write_text(json.dumps(winner, indent=2) + "\n")
            (folder / "details.json").write_text(json.dumps(result.scores, indent=2) + "\n")
            confusion, roc = plots / "confusion.csv", plots / "roc.csv"
            plot_tables(y_test, result.test_proba, prepared.label_names, confusion, roc)
            log_to_mlflow(result, prepared.label_names, y_test, roc,
                          [metrics_tmp, folder / "winner.json", folder / "details.json", confusion, roc])
            if params.evaluate.registry:
                decision.update(register(params, prepared, result))
                faults.point("evaluate.after_register")
            shown = {k: v for k, v in decision.items() if k != "previous_aliases"}
            (folder / "registry.json").write_text(json.dumps(shown, indent=2) + "\n")
    return dict(decision)


def describe(result: Evaluation, decision: dict) -> str:
    test = result.scores[result.winner.name]["test"]
    return (f"evaluate: winner {result.winner.name} {result.winner.weights}: test accuracy "
            f"{round(test['accuracy'], 5):.4f}, macro-F1 {round(test['macro_f1'], 5):.4f}")
