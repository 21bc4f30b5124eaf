"""The forecasting task's evaluate part: every trained model and every classical peer (naive,
seasonal naive, ETS, SARIMAX: fitted on train, rolled over each origin from the data before it),
their mean and a greedy weighted ensemble, chosen on validation (lower error wins), scored once on
test by the same code; the winner checked end to end from raw histories and registered."""
from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnnops.errors import DataError
from rnnops.scoring.ensemble import Ensemble, greedy_selection
from rnnops.tasks.forecast import baselines as peers
from rnnops.tasks.forecast.metrics import QUALITY, forecast_metrics, mase_scale
from rnnops.tasks.forecast.windows import PreparedSeries

SPLITS = ("val", "test")


@dataclass
class Evaluation:
    forecasts: dict[str, dict[str, np.ndarray]]  # member or peer -> split -> [n, horizon] in units
    peers: dict[str, peers.Fitted]
    scores: dict                                 # candidate -> weights, val and test metrics (per step too)
    winner: Ensemble
    actual: dict[str, np.ndarray]                # split -> [n, horizon]
    end_to_end: dict
    split_sha256: str

    def combined(self, candidate: Ensemble, split: str) -> np.ndarray:
        return candidate.combine({n: f[split] for n, f in self.forecasts.items()})


def actuals(prepared: PreparedSeries) -> dict[str, np.ndarray]:
    """What each val/test window should have forecast, in the series' units."""
    target = prepared.series[prepared.spec["target"]].to_numpy()
    steps = np.arange(prepared.spec["horizon"])
    return {s: target[prepared.origins[s][:, None] + steps] for s in SPLITS}


def load_members(names: list[str], models_dir: Path, prepared: PreparedSeries) -> dict[str, dict]:
    members = {}
    for name in names:
        path = models_dir / name / "forecasts.npz"
        if not path.is_file():
            raise DataError(f"{path}: missing. Fix: train the model first (`dvc repro train@{name}`).")
        try:
            with np.load(path, allow_pickle=False) as npz:
                stored = {k: npz[k] for k in ("val", "test", "origins_val", "origins_test")}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise DataError(f"{path}: unreadable ({type(exc).__name__}: {exc}). Fix: retrain it "
                            f"(`dvc repro -f train@{name}`).") from None
        if any(not np.array_equal(stored[f"origins_{s}"], prepared.origins[s]) for s in SPLITS):
            raise DataError(f"{models_dir / name} was trained on other prepared data. Fix: `dvc repro` "
                            "retrains it on the current data.")
        members[name] = {s: stored[s] for s in SPLITS}
    return members


def fit_peers(params, prepared: PreparedSeries) -> tuple[dict, dict]:
    """Each classical peer fitted on the training part, then its rolling-origin val/test forecasts."""
    target = prepared.series[prepared.spec["target"]].to_numpy(dtype=np.float64)
    steps = prepared.step_index(prepared.series.index)
    train_end = prepared.spec["bounds"]["train"][1]
    fitted, forecasts = {}, {}
    for name in params.baselines.models:
        fitted[name] = peers.fit(name, target[:train_end], steps[:train_end], params.baselines)
        forecasts[name] = {s: peers.rolling_forecasts(fitted[name], target, steps, prepared.origins[s],
                                                      prepared.spec["horizon"]) for s in SPLITS}
    return fitted, forecasts


def evaluate(params, prepared: PreparedSeries, names: list[str], models_dir: Path) -> Evaluation:
    ev = params.evaluate
    actual = actuals(prepared)
    train_end = prepared.spec["bounds"]["train"][1]
    scale = mase_scale(prepared.series[prepared.spec["target"]].to_numpy()[:train_end],
                       params.baselines.season_length)
    fitted, forecasts = fit_peers(params, prepared)
    forecasts = {**load_members(names, models_dir, prepared), **forecasts}

    def val_score(y, prediction):  # higher is better for the selection code
        return -forecast_metrics(y, prediction, scale)[ev.metric]

    val = {n: f["val"] for n, f in forecasts.items()}
    cands = [Ensemble(n, {n: 1.0}) for n in forecasts] + [
        Ensemble("mean", {n: 1.0 / len(forecasts) for n in forecasts}),
        greedy_selection(actual["val"], val, ev.metric, ev.ensemble_size, val_score)]
    # The best validation score; on a tie the earlier candidate (a single model before an ensemble).
    winner = max(reversed(cands), key=lambda c: val_score(actual["val"], c.combine(val)))
    scores = {c.name: {"weights": c.weights, **{s: forecast_metrics(actual[s], c.combine(
        {n: f[s] for n, f in forecasts.items()}), scale) for s in SPLITS}} for c in cands}
    result = Evaluation(forecasts, fitted, scores, winner, actual, {}, split_hash(prepared))
    result.end_to_end = end_to_end(result, models_dir, prepared)
    return result


def split_hash(prepared: PreparedSeries) -> str:
    """Identifies the test split: its timestamps and values (raw units) and the horizon scored."""
    start, end = prepared.spec["bounds"]["test"]
    part = prepared.series[prepared.spec["target"]].iloc[start:end]
    digest = hashlib.sha256(f"horizon={prepared.spec['horizon']}\n".encode())
    for time, value in part.items():
        digest.update(f"{time.isoformat()}\t{value!r}\n".encode())
    return digest.hexdigest()


def end_to_end(result: Evaluation, models_dir: Path, prepared: PreparedSeries, checks: int = 20) -> dict:
    """The winner from raw histories (the served pyfunc's code: series up to each origin in, the
    next horizon values out) must give the test forecasts scored here, at `checks` origins."""
    from rnnops.models.keras_io import load_keras_model
    from rnnops.tasks.forecast.serving import forecast

    members = [(result.peers[n] if n in result.peers else load_keras_model(models_dir / n / "model.keras"), w)
               for n, w in result.winner.weights.items()]
    expected = result.combined(result.winner, "test")
    origins = prepared.origins["test"]
    picks = np.unique(np.linspace(0, len(origins) - 1, min(checks, len(origins))).astype(int))
    history = prepared.series.reset_index().rename(columns={prepared.series.index.name or "index":
                                                            prepared.spec["time_column"]})
    diff = max(float(np.abs(forecast(members, prepared.spec, history.iloc[:origins[k]])[prepared.spec["target"]]
                            .to_numpy() - expected[k]).max()) for k in picks)
    tolerance = 1e-4 * max(1.0, float(np.abs(expected).max()))
    if diff > tolerance:
        raise DataError(f"evaluate: the served model disagrees with the evaluated forecasts (max "
                        f"difference {diff:.3g}). Fix: rerun `dvc repro -f` for this pipeline.")
    return {"origins_checked": len(picks), "max_difference": diff}


def quality(candidate: dict) -> dict:
    return {s: {k: round(candidate[s][k], 5) for k in QUALITY} for s in SPLITS}


def best_peer(result: Evaluation) -> str:
    return min(result.peers, key=lambda n: result.scores[n]["val"]["mase"])


def plot_tables(result: Evaluation, prepared: PreparedSeries) -> dict[str, pd.DataFrame]:
    """forecast.csv: the test period one step ahead (actual, the winner, the best peer on
    validation); per_step.csv: every candidate's test MAE and MASE per horizon step."""
    times = prepared.series.index[prepared.origins["test"]]
    forecast_table = pd.DataFrame({"time": [t.isoformat() for t in times], "actual": result.actual["test"][:, 0],
                                   f"winner ({result.winner.name})": result.combined(result.winner, "test")[:, 0]})
    if result.peers:
        name = best_peer(result)
        forecast_table[f"best baseline ({name})"] = result.forecasts[name]["test"][:, 0]
    rows = [{"model": name, "step": step + 1, "mae": s["test"]["per_step"]["mae"][step],
             "mase": s["test"]["per_step"]["mase"][step]}
            for name, s in result.scores.items() for step in range(len(s["test"]["per_step"]["mae"]))]
    return {"forecast.csv": forecast_table, "per_step.csv": pd.DataFrame(rows)}


def register(params, prepared: PreparedSeries, result: Evaluation, models_dir: Path) -> dict:
    """Log the winner's raw-history pyfunc, register it as rnnops-forecast-<series>, move
    `champion` only if its test error is lower on the same test split."""
    from rnnops.tasks.forecast.publish import log_forecaster
    from rnnops.tracking import registry

    name = registry.registered_model_name(prepared.dataset)
    dirs = {n: models_dir / n for n in result.winner.weights if n not in result.peers}
    info = log_forecaster(result.winner.weights, dirs, result.peers, prepared, "winner", name)
    metric = params.evaluate.promote_metric
    value = result.scores[result.winner.name]["test"][metric]
    decision = registry.promote(name, str(info.registered_model_version), metric, value,
                                result.split_sha256, higher_is_better=False)
    return registry.recorded(decision, info.model_uri, result.winner.name)


def run(params, prepared: PreparedSeries, result: Evaluation, models_dir: Path, metrics_path: Path,
        candidates_dir: Path, evaluation_dir: Path, plots_dir: Path) -> dict:
    """Write every output atomically (metrics/evaluate.json; one metrics file per ensemble and
    peer; evaluation/; plot tables), log them, register the winner; returns the decision."""
    from rnnops import atomic
    from rnnops.tasks.forecast.publish import save_forecaster
    from rnnops.tracking import registry

    ev = params.evaluate
    metrics = {**quality(result.scores[result.winner.name]), "promote_metric": f"test.{ev.promote_metric}",
               "test_split_sha256": result.split_sha256}
    dirs = {n: models_dir / n for n in result.winner.weights if n not in result.peers}
    with registry.undone_on_failure() as decision:
        outputs = (metrics_path, candidates_dir, evaluation_dir, plots_dir)
        with atomic.staged_outputs(*outputs) as (metrics_tmp, candidates, folder, plots):
            for directory in (candidates, folder, plots):
                directory.mkdir()
            metrics_tmp.write_text(json.dumps(metrics, indent=2) + "\n")
            for name in [*result.peers, "mean", "greedy"]:
                (candidates / f"{name}.json").write_text(json.dumps(quality(result.scores[name]), indent=2) + "\n")
            files = save_forecaster(result.winner.weights, dirs, result.peers, prepared, folder / "model")
            winner = {"winner": result.winner.name, "selection_metric": f"val.{ev.metric}",
                      "weights": result.winner.weights, "peers": {n: f.to_json() for n, f in result.peers.items()},
                      "end_to_end": result.end_to_end,
                      "model": {"path": (evaluation_dir / "model").as_posix(), "files": files}}
            (folder / "winner.json").write_text(json.dumps(winner, indent=2) + "\n")
            (folder / "details.json").write_text(json.dumps(result.scores, indent=2) + "\n")
            # The winner's test forecasts (series units) per origin: what the served model must give.
            np.savez(folder / "test_forecasts.npz", origins=prepared.origins["test"],
                     forecasts=result.combined(result.winner, "test"), actual=result.actual["test"])
            tables = plot_tables(result, prepared)
            for file, table in tables.items():
                table.to_csv(plots / file, index=False, float_format="%.6g")
            log_to_mlflow(result, tables, [metrics_tmp, folder / "winner.json", folder / "details.json"])
            if ev.registry:
                decision.update(register(params, prepared, result, models_dir))
            shown = {k: v for k, v in decision.items() if k != "previous_aliases"}
            (folder / "registry.json").write_text(json.dumps(shown, indent=2) + "\n")
    return dict(decision)


def log_to_mlflow(result: Evaluation, tables: dict, paths: list[Path]) -> None:
    import tempfile

    import mlflow

    from rnnops import plots
    from rnnops.tracking.runs import log_metrics_tree

    log_metrics_tree({"winner_test": quality(result.scores[result.winner.name])["test"],
                      "models": {name: quality(s) for name, s in result.scores.items()}})
    mlflow.set_tags({"rnnops.winner": result.winner.name, "rnnops.winner_weights": json.dumps(result.winner.weights)})
    for path in paths:
        mlflow.log_artifact(str(path), "outputs")
    with tempfile.TemporaryDirectory() as tmp:
        plots.forecast_vs_actual(tables["forecast.csv"], Path(tmp) / "forecast_test.png")
        plots.error_per_step(tables["per_step.csv"].rename(columns={"model": "candidate"}), "mase",
                             Path(tmp) / "mase_per_step.png")
        residuals = (result.actual["test"] - result.combined(result.winner, "test")).ravel()
        plots.residual_histogram(residuals, Path(tmp) / "residuals_test.png")
        mlflow.log_artifacts(tmp, "plots")


def describe(result: Evaluation, decision: dict) -> str:
    test = result.scores[result.winner.name]["test"]
    return (f"evaluate: winner {result.winner.name} {result.winner.weights}: test MAE {test['mae']:.4f}, "
            f"MASE {test['mase']:.4f}, sMAPE {test['smape']:.3f}%")
