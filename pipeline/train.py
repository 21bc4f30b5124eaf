"""DVC stage `train@<name>`: fit `models.<name>` on the prepared data; track it in MLflow."""
import argparse
import json
from pathlib import Path

from rnnops.errors import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", help="an entry under `models:` in params.yaml")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared"))
    parser.add_argument("--best", type=Path, help="tuning/best_params.json: train the tuned model")
    args = parser.parse_args()

    from rnnops.config import load_params
    from rnnops.errors import ParamsError
    params = load_params(args.params)  # exits 2 on any problem, before TensorFlow is imported
    if args.best:
        from rnnops.config import with_tuned_model
        params = with_tuned_model(params, args.best)
    if args.name not in params.models:
        raise ParamsError(f"{args.params}: models.{args.name} does not exist. Fix: add it under "
                          f"models: or use one of {', '.join(params.models)}.")

    from rnnops import atomic, tracking, train_stage
    prepared = train_stage.load_prepared(args.prepared)
    outputs = (Path("models") / args.name, Path("metrics/train") / f"{args.name}.json",
               Path("plots/train") / f"{args.name}.csv")
    run_params = train_stage.run_params(params, args.name, prepared)
    tags = {"data.sha256": prepared.spec["source_sha256"], "rnnops.model": args.name}
    with tracking.stage_run(f"train@{args.name}", prepared.dataset, run_params, tags):
        with atomic.staged_outputs(*outputs) as (model_dir, metrics_path, plot_path):
            model_dir.mkdir()
            result = train_stage.train(params, args.name, prepared, model_dir)
            summary = train_stage.summary(args.name, params.model(args.name)[0], result)
            train_stage.write(result, prepared, summary, model_dir, metrics_path, plot_path)
            run_info = train_stage.log_to_mlflow(result, prepared, summary, model_dir, metrics_path, plot_path)
            (model_dir / "run.json").write_text(json.dumps(run_info, indent=2) + "\n")
        print(f"train@{args.name}: val accuracy {summary['val']['accuracy']:.4f}, test accuracy "
              f"{summary['test']['accuracy']:.4f}, {summary['samples_per_second']:.0f} samples/s")


if __name__ == "__main__":
    run_main(main)
