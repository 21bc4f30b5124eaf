"""DVC stage `tune`: an Optuna study over `tune.space`; writes the winner for `train_tuned`.

`--workers N` (default `tune.workers`) runs N processes on the same study storage (one machine),
each with cores / N TensorFlow threads. To add workers on other machines, point `tune.storage` at a
shared database (PostgreSQL) and run `python pipeline/tune.py --worker` there. A rerun resumes the study; it stops at `tune.n_trials` finished trials.
"""
import argparse
import time
from pathlib import Path

from rnnops.errors import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared"))
    parser.add_argument("--best", type=Path, default=Path("tuning/best_params.json"))
    parser.add_argument("--summary", type=Path, default=Path("tuning/study.json"),
                        help="output: study, best value and trial, trial counts, epochs, seconds")
    parser.add_argument("--history", type=Path, default=Path("plots/tune/history.csv"))
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes on this machine (default: tune.workers); with --worker, "
                             "how many share this machine's cores")
    parser.add_argument("--worker", action="store_true", help="only run trials (no outputs)")
    parser.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--parent-run", default=None, help="MLflow run id to nest trials under")
    args = parser.parse_args()

    from rnnops.params.load import load_params
    params = load_params(args.params)  # exits 2 on any problem, before TensorFlow is imported

    from rnnops import atomic, tasks
    from rnnops.project import flatten
    from rnnops.stages import tune
    from rnnops.tracking import runs
    prepared = tasks.get(params.task).part("prepare").load(args.prepared)  # the task's prepared format
    study = tune.open_study(params, prepared, args.worker_index)
    workers = args.workers or params.tune.workers
    if args.worker:
        tune.work(params, prepared, study, args.parent_run, runs.use_store(prepared.dataset), workers)
        return
    from rnnops.training.study import redacted
    # A database password in tune.storage stays out of MLflow (better: keep it out of params.yaml,
    # which dvc.lock copies into git, and export PGPASSWORD, which libpq reads).
    tune_params = {**params.tune.model_dump(), "storage": redacted(params.tune.storage)}
    run_params = flatten({"seed": params.seed, "tune": tune_params})
    worker_cmd = [__file__, "--params", args.params, "--prepared", str(args.prepared)]
    with runs.stage_run("tune", prepared.dataset, run_params, {"optuna.study": study.study_name},
                        data=prepared.as_input("tuning")) as run:
        start = time.perf_counter()
        tune.run_trials(params, prepared, study, run, workers, worker_cmd)
        best, summary, table = tune.results(params, study, time.perf_counter() - start)
        with atomic.staged_outputs(args.best, args.summary, args.history) as staged:
            tune.write(best, summary, table, *staged)
            tune.log_to_mlflow(study, summary, staged)
    print(f"tune: study {summary['study']}: best {summary['metric']} {summary['best_value']:.4f} "
          f"(trial {summary['best_trial']}), trials {summary['trials']}, "
          f"{summary['epochs_spent']} epochs -> {args.best}")


if __name__ == "__main__":
    run_main(main)
