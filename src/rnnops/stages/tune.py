"""The `tune` stage: the trial objective (nested MLflow runs), worker processes on one study, and
the stage outputs (best params as overrides of the params tree, study summary, optimisation history,
plots). The Optuna machinery itself (storage, sampler, pruner, heartbeats) is
`rnnops.training.study`."""
from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pandas as pd
from optuna.trial import TrialState

from rnnops.errors import RnnopsError
from rnnops.params import search_space
from rnnops.params.architectures import ARCHITECTURES
from rnnops.params.load import Params
from rnnops.project import flatten, project_root
from rnnops.tracking.runs import process_tags
from rnnops.training import study as tuning
from rnnops.training.callbacks import ValMacroF1
from rnnops.training.fit import fit_model

# tune.metric -> the key of FitResult.metrics["val"] a trial returns (forecasting: the scaled
# loss and MAE Keras reports per epoch, so pruning and the final value share one scale)
METRIC_KEYS = {"val_accuracy": "accuracy", "val_macro_f1": "macro_f1", "val_loss": "loss",
               "val_mae": "mae_scaled"}


def trial_config(params: Params, overrides: dict):
    """(architecture, model params, train params) of one trial, validated like params.yaml."""
    tune = params.tune
    model = ARCHITECTURES[tune.architecture].model_validate({**tune.base, **overrides["model"]})
    train = params.train.model_validate({**params.train.model_dump(), **overrides["train"]})
    return tune.architecture, model, train


def epoch_pruning_callback(trial: optuna.Trial, monitor: str, offset: int = 0):
    """Optuna's Keras pruning callback, reporting epochs done (1, 2, ...) as the step.

    The stock callback reports Keras' 0-based epoch index; Hyperband's rungs are resources
    (min_resource * 3**k epochs), so with 0-based steps each rung was checked one epoch late and
    the last rung fell on the final epoch, where pruning saves nothing.

    With K folds (tune.cross_validate) fold k reports at steps k * epochs_per_trial + 1, ...:
    every trial's fold k epoch e is one step, so the pruner compares like with like per fold."""
    from optuna_integration import KerasPruningCallback

    class EpochsDonePruning(KerasPruningCallback):
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(offset + epoch + 1, logs)

    return EpochsDonePruning(trial, monitor)


def make_objective(params: Params, prepared, parent_run_id: str, experiment_id: str, threads: str = ""):
    """The function Optuna calls per trial: train through fit_model, report each epoch.
    `threads` ("<intra>/<inter>" TensorFlow threads of this process) tags each trial's run."""
    import mlflow

    from rnnops import tasks

    tune = params.tune
    spec, arrays, scorer = tasks.get(params.task).part("train").fit_inputs(params, prepared)

    def objective(trial: optuna.Trial) -> float:
        study = trial.study
        tuning.check_not_surplus(study, trial, tune.n_trials)
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        overrides = search_space.sample(trial, tune)
        arch, model_params, train = trial_config(params, overrides)
        start = time.perf_counter()
        run = mlflow.start_run(run_name=f"trial-{trial.number}", nested=True, parent_run_id=parent_run_id,
                               experiment_id=experiment_id,
                               tags={"optuna.study": study.study_name, "optuna.trial": str(trial.number),
                                     "rnnops.stage": "tune.trial", "rnnops.tf_threads": threads,
                                     **process_tags()})
        state, status = "failed", "FAILED"
        try:
            mlflow.log_params({"trial": trial.number, "architecture": arch,
                               **flatten(overrides)})
            def callbacks(val: tuple, offset: int = 0) -> list:
                extra = [ValMacroF1(val, spec.num_classes)] if tune.metric == "val_macro_f1" else []
                return extra + [epoch_pruning_callback(trial, tune.metric, offset)]  # reports, may prune

            with tuning.Heartbeat(study, trial, tune.heartbeat_interval):
                if tune.cross_validate:  # the mean over train.folds folds
                    value = folds_value(arch, model_params, train, spec, arrays, params, scorer, callbacks)
                else:
                    result = fit_model(arch, model_params, train, spec, arrays, params.seed,
                                       extra_callbacks=callbacks(arrays["val"]), epochs=tune.epochs_per_trial,
                                       evaluate_splits=("val",), verbose=0, scorer=scorer)
                    value = result.metrics["val"][METRIC_KEYS[tune.metric]]
            mlflow.log_metric(f"final_{tune.metric}", value)
            state, status = "complete", "FINISHED"
            return value
        except optuna.TrialPruned:
            state, status = "pruned", "FINISHED"
            raise
        except KeyboardInterrupt:
            state, status = "killed", "KILLED"
            raise
        finally:
            mlflow.set_tag("optuna.state", state)
            mlflow.log_metric("trial_seconds", time.perf_counter() - start)
            mlflow.end_run(status)
            del run

    return objective


def folds_value(arch, model_params, train, spec, arrays, params, scorer, callbacks) -> float:
    """A trial's K-fold value: the mean of its folds' best-epoch validation scores."""
    from rnnops.training.folds import run_folds

    epochs = params.tune.epochs_per_trial
    _, results, _ = run_folds(arch, model_params, train, spec, arrays, params.seed, scorer, epochs=epochs,
                              callbacks_for=lambda fold, parts: callbacks(parts["val"], fold * epochs),
                              verbose=0, track=False, stratified=not spec.outputs)
    return float(sum(r.metrics["val"][METRIC_KEYS[params.tune.metric]] for r in results) / len(results))


def fingerprint(prepared) -> str:
    """<dataset>:<sha256 of spec.json>: which prepared data a study's trials saw."""
    import hashlib

    digest = hashlib.sha256((prepared.directory / "spec.json").read_bytes()).hexdigest()
    return f"{prepared.dataset}:{digest}"


def open_study(params: Params, prepared, worker: int = 0) -> optuna.Study:
    """The stage's study: same data, space and settings -> same study, resumed."""
    storage = tuning.open_storage(params.tune, project_root())
    name = tuning.study_name(params, fingerprint(prepared))
    return tuning.open_study(params, name, storage, worker)


def work(params: Params, prepared, study: optuna.Study, parent_run: str | None,
         experiment_id: str, workers: int = 1) -> None:
    """Run trials of the study in this process until it has n_trials finished ones; `workers`
    is how many worker processes share this machine (their TensorFlow threads split its cores).
    A study that is already complete returns at once, before any data or TensorFlow is loaded."""
    if tuning.finished(study) >= params.tune.n_trials:
        print(f"tune: study {study.study_name} already has {params.tune.n_trials} finished trials; "
              "nothing to do", flush=True)
        return
    threads = tuning.limit_threads(params.tune, workers)
    objective = make_objective(params, prepared, parent_run, experiment_id, threads)
    tuning.run_worker(study, objective, params.tune, progress(study, params.tune.n_trials))


def run_trials(params: Params, prepared, study: optuna.Study, run, workers: int,
               worker_cmd: list[str]) -> None:
    """workers-1 extra processes (`worker_cmd --worker`) plus this one on the study, nested under
    the stage's MLflow `run`; a worker that fails fails the stage."""
    import subprocess

    extra = [subprocess.Popen([sys.executable, *worker_cmd, "--worker", "--worker-index", str(i),
                               "--workers", str(workers), "--parent-run", run.info.run_id])
             for i in range(1, workers)]
    try:
        work(params, prepared, study, run.info.run_id, run.info.experiment_id, workers)
    except BaseException:
        for proc in extra:
            proc.terminate()
        raise
    finally:
        codes = [proc.wait() for proc in extra]
    if any(codes):
        raise RnnopsError(f"tune: worker processes exited with {codes}; see their messages above.")


def results(params: Params, study: optuna.Study, seconds: float) -> tuple[dict, dict, pd.DataFrame]:
    """(best_params.json, tuning/study.json, the history table) of a finished study."""
    table = history(study)
    best = best_overrides(params, study)
    return best, summary(study, table, best, seconds), table


def progress(study: optuna.Study, n_trials: int):
    """Trial callback: a tqdm bar in a terminal, one line per trial otherwise."""
    from tqdm import tqdm

    done = sum(t.state in tuning.FINISHED for t in study.get_trials(deepcopy=False))
    bar = tqdm(total=n_trials, initial=done, unit="trial", desc="tune") if sys.stdout.isatty() else None

    def on_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        value = "" if trial.value is None else f" value {trial.value:.4f}"
        epochs = len(trial.intermediate_values)  # none for a closed-form fit (nb_logistic)
        line = f"trial {trial.number}: {trial.state.name.lower()}{value}" + (f" after {epochs} epoch(s)" if epochs else "")
        if bar is not None:
            bar.update(trial.state in tuning.FINISHED)
            bar.set_postfix_str(line)
        else:
            print(f"tune: {line}", flush=True)

    return on_trial


def history(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: state, value, best so far, epochs spent, seconds, params."""
    rows, best = [], None
    better = (lambda a, b: a > b) if study.direction == optuna.study.StudyDirection.MAXIMIZE else (lambda a, b: a < b)
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        if t.state == TrialState.COMPLETE and (best is None or better(t.value, best)):
            best = t.value
        seconds = (t.datetime_complete - t.datetime_start).total_seconds() \
            if t.datetime_complete and t.datetime_start else None
        rows.append({"trial": t.number, "state": t.state.name.lower(), "value": t.value, "best_value": best,
                     "epochs": len(t.intermediate_values), "seconds": seconds,
                     **{f"param.{k}": v for k, v in t.params.items()}})
    return pd.DataFrame(rows)


def best_overrides(params: Params, study: optuna.Study) -> dict:
    """tuning/best_params.json: the winning trial as overrides of the params tree."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        c = tuning.counts(study)
        raise RnnopsError(
            f"tune: no trial of study '{study.study_name}' completed ({c['pruned']} pruned, {c['fail']} "
            "failed). Fix: check tune.space for ranges that cannot train (see the trials in MLflow), "
            "raise tune.epochs_per_trial, or set tune.pruner: none.")
    best = study.best_trial
    overrides = search_space.from_params(best.params)
    _, model, train = trial_config(params, overrides)
    return {"study": study.study_name, "trial": best.number, "metric": params.tune.metric,
            "value": best.value,
            "models": {"tuned": {"architecture": params.tune.architecture,
                                 **model.model_dump(exclude={"architecture"})}},
            "train": {k: getattr(train, k) for k in overrides["train"]}}


def summary(study: optuna.Study, table: pd.DataFrame, best: dict, seconds: float) -> dict:
    c = tuning.counts(study)
    return {"study": study.study_name, "metric": best["metric"], "best_value": round(best["value"], 5),
            "best_trial": best["trial"], "trials": {"complete": c["complete"], "pruned": c["pruned"],
                                                    "failed": c["fail"]},
            "epochs_spent": int(table["epochs"].sum()), "wall_seconds": round(seconds, 2)}


def write(best: dict, summary: dict, table: pd.DataFrame, best_path: Path, summary_path: Path,
          history_path: Path) -> None:
    best_path.write_text(json.dumps(best, indent=2) + "\n")
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    table.to_csv(history_path, index=False, float_format="%.6g")


def log_to_mlflow(study: optuna.Study, metrics: dict, paths: list[Path]) -> None:
    """Summary metrics, outputs, the link to the best trial's run, and Optuna's history /
    importance / parallel-coordinate plots."""
    import mlflow

    from rnnops import plots
    from rnnops.tracking.runs import log_metrics_tree

    log_metrics_tree({k: v for k, v in metrics.items() if k not in ("study", "metric")})
    mlflow.set_tag("optuna.study", study.study_name)
    link_best_trial(study, metrics)
    for path in paths:
        mlflow.log_artifact(str(path), "outputs")
    with tempfile.TemporaryDirectory() as tmp:
        for name, problem in plots.study_figures(study, Path(tmp)).items():
            print(f"tune: no {name} plot ({problem})")
        mlflow.log_artifacts(tmp, "plots")


def link_best_trial(study: optuna.Study, metrics: dict) -> None:
    """"Which trial won?" answered on the tune run's page: a tag with the best trial's run id and
    a description (Markdown) linking to it. That run is a child of this one tagged optuna.trial;
    for a study resumed from an earlier tune run, the latest run of that trial in the study."""
    import mlflow

    parent = mlflow.active_run().info
    trial = f"tags.`optuna.trial` = '{metrics['best_trial']}'"
    scopes = [f"tags.`mlflow.parentRunId` = '{parent.run_id}'"]
    if "'" not in study.study_name:
        scopes.append(f"tags.`optuna.study` = '{study.study_name}'")
    for scope in scopes:
        found = mlflow.MlflowClient().search_runs([parent.experiment_id], f"{scope} and {trial}", max_results=1,
                                                  order_by=["attributes.start_time DESC"])
        if found:
            break
    else:
        print(f"tune: no MLflow run of best trial {metrics['best_trial']} found; the tune run does not link to it")
        return
    best = found[0]
    link = f"#/experiments/{best.info.experiment_id}/runs/{best.info.run_id}"
    counts = ", ".join(f"{n} {state}" for state, n in metrics["trials"].items())
    mlflow.set_tags({
        "rnnops.best_trial_run": best.info.run_id,
        "mlflow.note.content": (
            f"**Best trial: [{best.info.run_name}]({link})**, {metrics['metric']} "
            f"{metrics['best_value']:.4f}.\n\nOptuna study `{study.study_name}`; trials: {counts}. "
            "Each trial is a child run of this one; `train_tuned` trains the winner's "
            "hyperparameters (`tuning/best_params.json`) on the full schedule.\n")})
