"""DVC stage `tune`: an Optuna study over `tune.space`; writes the winner for `train_tuned`.

`--workers N` runs N processes on the same study storage (one machine). To add workers on
other machines, point `tune.storage` at a shared database and run `python pipeline/tune.py
--worker` there. A rerun resumes the study; it stops at `tune.n_trials` finished trials.
"""
import argparse
from pathlib import Path

from rnnops.errors import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared"))
    parser.add_argument("--best", type=Path, default=Path("tuning/best_params.json"))
    parser.add_argument("--metrics", type=Path, default=Path("metrics/tune.json"))
    parser.add_argument("--history", type=Path, default=Path("plots/tune/history.csv"))
    parser.add_argument("--workers", type=int, default=1, help="processes on this machine")
    parser.add_argument("--worker", action="store_true", help="only run trials (no outputs)")
    parser.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--parent-run", default=None, help="MLflow run id to nest trials under")
    args = parser.parse_args()

    from rnnops.config import load_params
    params = load_params(args.params)  # exits 2 on any problem, before TensorFlow is imported

    from rnnops import tune_stage
    if args.worker:
        tune_stage.work(params, args.prepared, args.worker_index, args.parent_run)
        return
    summary = tune_stage.run_stage(params, args.prepared, args.workers, args.best, args.metrics,
                                   args.history, worker_cmd=[__file__, "--params", args.params,
                                                             "--prepared", str(args.prepared)])
    print(f"tune: study {summary['study']}: best {summary['metric']} {summary['best_value']:.4f} "
          f"(trial {summary['best_trial']}), trials {summary['trials']}, "
          f"{summary['epochs_spent']} epochs -> {args.best}")


if __name__ == "__main__":
    run_main(main)
