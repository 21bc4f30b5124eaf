"""DVC stage `train@<name>` (and `train_tuned`): fit `models.<name>` on the prepared data with the
shared training loop; the task supplies inputs, scores and outputs; track it in MLflow."""
import argparse
import json
from pathlib import Path

from rnnops.errors import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", help="an entry under `models:` in params.yaml (or `tuned` with --best)")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared"))
    parser.add_argument("--best", type=Path, help="tuning/best_params.json: train the tuned model")
    parser.add_argument("--model-dir", type=Path, help="output folder (default models/<name>)")
    parser.add_argument("--metrics", type=Path, help="output (default metrics/train/<name>.json)")
    parser.add_argument("--history", type=Path, help="output (default plots/train/<name>.csv)")
    args = parser.parse_args()

    from rnnops.errors import ParamsError
    from rnnops.params.load import load_params, with_tuned_model
    params = load_params(args.params)  # exits 2 on any problem, before TensorFlow is imported
    if args.best:
        params = with_tuned_model(params, args.best)
    if args.name not in params.models:
        raise ParamsError(f"{args.params}: models.{args.name} does not exist. Fix: add it under "
                          f"models: or use one of {', '.join(params.models)}.")

    from rnnops import atomic, faults, tasks
    from rnnops.tracking import runs
    task = tasks.get(params.task)
    train = task.part("train")
    prepared = task.part("prepare").load(args.prepared)
    outputs = (args.model_dir or Path("models") / args.name,
               args.metrics or Path("metrics/train") / f"{args.name}.json",
               args.history or Path("plots/train") / f"{args.name}.csv")
    run_params = train.run_params(params, args.name, prepared)
    tags = {**train.tags(prepared), "rnnops.model": args.name}
    with runs.stage_run(f"train@{args.name}", prepared.dataset, run_params, tags,
                        data=prepared.as_input("training")):
        result = train.train(params, args.name, prepared)
        faults.point("train.before_outputs")
        scores, facts = train.scores(result), train.facts(args.name, params.model(args.name)[0], result)
        with atomic.staged_outputs(*outputs) as (model_dir, metrics_path, history_path):
            train.write(result, prepared, scores, model_dir, metrics_path, history_path)
            faults.point("train.writing")
            run_info = train.log_to_mlflow(result, prepared, scores, facts, model_dir, metrics_path, history_path)
            (model_dir / "run.json").write_text(json.dumps(run_info, indent=2) + "\n")
    print(train.describe(args.name, scores, facts))


if __name__ == "__main__":
    run_main(main)
