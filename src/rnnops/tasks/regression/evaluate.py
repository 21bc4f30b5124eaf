"""The regression task's evaluate part: every trained model and every classical peer (training
mean, ridge, gradient boosting), their average and a greedy weighted mean, chosen on validation (the
out-of-fold predictions with K folds; lower error wins), scored once on test by the same code; the
winner checked end to end from raw inputs and registered."""
from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rnnops.errors import DataError
from rnnops.scoring.ensemble import Ensemble, greedy_selection
from rnnops.tasks.regression import baselines
from rnnops.tasks.regression.metrics import keys, regression_metrics
from rnnops.tasks.regression.prepared import PreparedTable

SPLITS = ("val", "test")


@dataclass
class Evaluation:
    predictions: dict[str, dict[str, np.ndarray]]   # member or peer -> split -> [n] in units
    peers: dict[str, baselines.Peer]                 # fitted on every row the test predictions may use
    scores: dict                                     # candidate -> weights, val and test scores
    winner: Ensemble
    actual: dict[str, np.ndarray]
    split_sha256: str
    folds: dict[str, list[dict]] = field(default_factory=dict)   # member -> per-fold scores (K folds)
    end_to_end: dict = field(default_factory=dict)

    def combined(self, candidate: Ensemble, split: str) -> np.ndarray:
        return candidate.combine({n: p[split] for n, p in self.predictions.items()})


def load_members(names: list[str], models_dir: Path, rows_val: np.ndarray, prepared: PreparedTable):
    members, folds = {}, {}
    for name in names:
        path = models_dir / name / "predictions.npz"
        if not path.is_file():
            raise DataError(f"{path}: missing. Fix: train the model first (`dvc repro train@{name}`).")
        try:
            with np.load(path, allow_pickle=False) as npz:
                stored = {k: npz[k] for k in ("val", "test", "rows_val", "rows_test")}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise DataError(f"{path}: unreadable ({type(exc).__name__}: {exc}). Fix: retrain it "
                            f"(`dvc repro -f train@{name}`).") from None
        if not (np.array_equal(stored["rows_val"], rows_val) and np.array_equal(stored["rows_test"], prepared.rows["test"])):
            raise DataError(f"{models_dir / name} was trained on other prepared data or with other train.folds. "
                            "Fix: `dvc repro` retrains it.")
        members[name] = {s: stored[s] for s in SPLITS}
        record = models_dir / name / "folds.json"
        if record.is_file():
            folds[name] = json.loads(record.read_text())["per_fold"]
    return members, folds


def peer_inputs(prepared: PreparedTable, split: str):
    return (None, prepared.raw[split]) if prepared.text else (prepared.standardised(split), None)


def fit_peers(params, prepared: PreparedTable) -> tuple[dict, dict]:
    """Each peer's val (held-out, or out-of-fold with the models' folds) and test predictions;
    the peer kept is fitted on the rows the models' test predictions come from."""
    from rnnops.data.splits import assign_folds

    options, seed, k = params.baselines, params.seed, params.train.folds
    fitted, predictions = {}, {}
    for name in options.models:
        if k == 1:
            fit_on = ("train",)
            peer = baselines.fit_peer(name, options, *peer_inputs(prepared, "train"), prepared.y["train"], seed)
            val = peer.predict(*peer_inputs(prepared, "val"))
        else:
            fit_on = ("train", "val")
            features, texts = _joined(prepared, fit_on)
            y = np.concatenate([prepared.y[s] for s in fit_on])
            folds = assign_folds(np.zeros(len(y)), k, seed, False)   # the models' folds
            val = baselines.out_of_fold(name, options, features, texts, y, folds, seed)
            peer = baselines.fit_peer(name, options, features, texts, y, seed)
        fitted[name] = peer
        predictions[name] = {"val": val, "test": peer.predict(*peer_inputs(prepared, "test"))}
    return fitted, predictions


def _joined(prepared: PreparedTable, splits: tuple[str, ...]):
    if prepared.text:
        return None, [t for s in splits for t in prepared.raw[s]]
    return np.concatenate([prepared.standardised(s) for s in splits]), None


def evaluate(params, prepared: PreparedTable, names: list[str], models_dir: Path) -> Evaluation:
    ev, ratings = params.evaluate, bool(prepared.spec.get("ratings"))
    rows_val = prepared.selection("rows", params.train.folds)
    actual = {"val": prepared.selection("y", params.train.folds), "test": prepared.y["test"]}
    members, folds = load_members(names, models_dir, rows_val, prepared)
    fitted, peer_predictions = fit_peers(params, prepared)
    predictions = {**members, **peer_predictions}

    def val_score(y, prediction):  # higher is better for the selection code
        return -regression_metrics(y, prediction)[ev.metric]

    val = {n: p["val"] for n, p in predictions.items()}
    cands = [Ensemble(n, {n: 1.0}) for n in predictions] + [
        # "average", not "mean": `mean` is the training-mean peer
        Ensemble("average", {n: 1.0 / len(predictions) for n in predictions}),
        greedy_selection(actual["val"], val, ev.metric, ev.ensemble_size, val_score)]
    # The best validation score; on a tie the earlier candidate (a single model before an ensemble).
    winner = max(reversed(cands), key=lambda c: val_score(actual["val"], c.combine(val)))
    scores = {c.name: {"weights": c.weights, **{s: regression_metrics(actual[s], c.combine(
        {n: p[s] for n, p in predictions.items()}), ratings) for s in SPLITS}} for c in cands}
    result = Evaluation(predictions, fitted, scores, winner, actual, split_hash(prepared), folds)
    result.end_to_end = end_to_end(result, models_dir, prepared)
    return result


def split_hash(prepared: PreparedTable) -> str:
    """Identifies the test split: its source rows and target values."""
    digest = hashlib.sha256(f"{prepared.spec['origin']}\n".encode())
    for row, value in zip(prepared.rows["test"], prepared.y["test"]):
        digest.update(f"{int(row)}\t{float(value)!r}\n".encode())
    return digest.hexdigest()


def end_to_end(result: Evaluation, models_dir: Path, prepared: PreparedTable, checks: int = 200) -> dict:
    """The winner through the served pyfunc's code (raw rows or texts in) must give the test
    predictions scored here, on `checks` test rows."""
    from rnnops.models.keras_io import load_keras_model
    from rnnops.tasks.regression.publish import keras_file
    from rnnops.tasks.regression.serving import predict_values

    members = [(result.peers[n] if n in result.peers else load_keras_model(models_dir / n / keras_file(prepared)), w)
               for n, w in result.winner.weights.items()]
    expected = result.combined(result.winner, "test")
    picks = np.unique(np.linspace(0, len(expected) - 1, min(checks, len(expected))).astype(int))
    if prepared.text:
        inputs = [prepared.raw["test"][i] for i in picks]
    else:
        inputs = pd.DataFrame(prepared.raw["test"][picks], columns=prepared.spec["features"])
    diff = float(np.abs(predict_values(members, prepared.spec, inputs) - expected[picks]).max())
    tolerance = 1e-3 * max(1.0, float(np.abs(expected).max()))
    if diff > tolerance:
        raise DataError(f"evaluate: the served model disagrees with the evaluated predictions (max "
                        f"difference {diff:.3g}). Fix: rerun `dvc repro -f regression/dvc.yaml`.")
    return {"rows_checked": int(len(picks)), "max_difference": diff}


def quality(candidate: dict, spec: dict) -> dict:
    return {s: {k: round(candidate[s][k], 5) for k in keys(spec)} for s in SPLITS}


def plot_tables(result: Evaluation, prepared: PreparedTable) -> dict[str, pd.DataFrame]:
    """predictions.csv: each test row's actual value and the winner's prediction (DVC scatter);
    folds.csv (K folds): every model's validation scores per fold."""
    tables = {"predictions.csv": pd.DataFrame({
        "row": prepared.rows["test"], "actual": result.actual["test"],
        "predicted": result.combined(result.winner, "test")})}
    rows = [{"model": name, **fold} for name, per_fold in result.folds.items() for fold in per_fold]
    # Always written (DVC declares it): no rows with train.folds 1.
    tables["folds.csv"] = pd.DataFrame(rows, columns=None if rows else ["model", "fold", "mae"])
    return tables


def register(params, prepared: PreparedTable, result: Evaluation, models_dir: Path) -> dict:
    """Log the winner's pyfunc, register it as rnnops-<dataset>, move `champion` only if its
    test error is lower on the same test split."""
    from rnnops.tasks.regression.publish import log_regressor
    from rnnops.tracking import registry

    name = registry.registered_model_name(prepared.dataset)
    dirs = {n: models_dir / n for n in result.winner.weights if n not in result.peers}
    info = log_regressor(result.winner.weights, dirs, result.peers, prepared, "winner", name)
    metric = params.evaluate.promote_metric
    value = result.scores[result.winner.name]["test"][metric]
    decision = registry.promote(name, str(info.registered_model_version), metric, value,
                                result.split_sha256, higher_is_better=False)
    return registry.recorded(decision, info.model_uri, result.winner.name)


def run(params, prepared: PreparedTable, result: Evaluation, models_dir: Path, metrics_path: Path,
        candidates_dir: Path, evaluation_dir: Path, plots_dir: Path) -> dict:
    """Write every output atomically (metrics/evaluate.json; one metrics file per ensemble and
    peer; evaluation/; plot tables), log them, register the winner; returns the decision."""
    from rnnops import atomic
    from rnnops.tasks.regression.publish import save_regressor
    from rnnops.tracking import registry

    ev, spec = params.evaluate, prepared.spec
    metrics = {**quality(result.scores[result.winner.name], spec), "promote_metric": f"test.{ev.promote_metric}",
               "test_split_sha256": result.split_sha256}
    dirs = {n: models_dir / n for n in result.winner.weights if n not in result.peers}
    with registry.undone_on_failure() as decision:
        with atomic.staged_outputs(metrics_path, candidates_dir, evaluation_dir, plots_dir) as (
                metrics_tmp, candidates, folder, plots):
            for directory in (candidates, folder, plots):
                directory.mkdir()
            metrics_tmp.write_text(json.dumps(metrics, indent=2) + "\n")
            for name in [*result.peers, "average", "greedy"]:
                (candidates / f"{name}.json").write_text(json.dumps(quality(result.scores[name], spec), indent=2) + "\n")
            files = save_regressor(result.winner.weights, dirs, result.peers, prepared, folder / "model")
            selection = "val" if params.train.folds == 1 else f"out-of-fold ({params.train.folds} folds)"
            winner = {"winner": result.winner.name, "selection_metric": f"val.{ev.metric}", "selection": selection,
                      "weights": result.winner.weights, "end_to_end": result.end_to_end,
                      "model": {"path": (evaluation_dir / "model").as_posix(), "files": files}}
            (folder / "winner.json").write_text(json.dumps(winner, indent=2) + "\n")
            (folder / "details.json").write_text(json.dumps({"scores": result.scores, "folds": result.folds},
                                                            indent=2) + "\n")
            tables = plot_tables(result, prepared)
            for file, table in tables.items():
                table.to_csv(plots / file, index=False, float_format="%.6g")
            log_to_mlflow(result, prepared, tables, [metrics_tmp, folder / "winner.json", folder / "details.json"])
            if ev.registry:
                decision.update(register(params, prepared, result, models_dir))
            shown = {k: v for k, v in decision.items() if k != "previous_aliases"}
            (folder / "registry.json").write_text(json.dumps(shown, indent=2) + "\n")
    return dict(decision)


def log_to_mlflow(result: Evaluation, prepared: PreparedTable, tables: dict, paths: list[Path]) -> None:
    import tempfile

    import mlflow

    from rnnops import plots
    from rnnops.tracking.runs import log_metrics_tree

    spec = prepared.spec
    log_metrics_tree({"winner_test": quality(result.scores[result.winner.name], spec)["test"],
                      "models": {name: quality(s, spec) for name, s in result.scores.items()}})
    mlflow.set_tags({"rnnops.winner": result.winner.name, "rnnops.winner_weights": json.dumps(result.winner.weights)})
    for path in paths:
        mlflow.log_artifact(str(path), "outputs")
    with tempfile.TemporaryDirectory() as tmp:
        table = tables["predictions.csv"]
        plots.predicted_vs_actual(table["actual"], table["predicted"], spec["target"], Path(tmp) / "predicted_vs_actual.png")
        plots.residual_histogram(table["actual"] - table["predicted"], Path(tmp) / "residuals_test.png",
                                 "actual - predicted (test rows)")
        if len(tables["folds.csv"]):
            plots.fold_scores(tables["folds.csv"], "mae", Path(tmp) / "mae_per_fold.png")
        mlflow.log_artifacts(tmp, "plots")


def describe(result: Evaluation, decision: dict) -> str:
    test = result.scores[result.winner.name]["test"]
    return (f"evaluate: winner {result.winner.name} {result.winner.weights}: test MAE {test['mae']:.4f}, "
            f"RMSE {test['rmse']:.4f}, R² {test['r2']:.4f}")
