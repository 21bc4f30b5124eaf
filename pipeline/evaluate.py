"""DVC stage `evaluate`: every trained model, soft voting and greedy ensemble selection, chosen
on validation, scored once on test; the winner registered as rnnops-<dataset> in MLflow."""
import argparse
import json
from pathlib import Path

from rnnops.errors import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared"))
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--members", help="comma-separated names (default: models in params + tuned)")
    args = parser.parse_args()

    from rnnops.config import flatten, load_params
    params = load_params(args.params)  # exits 2 on any problem, before TensorFlow is imported

    from rnnops import atomic, evaluate_stage, registry, tracking
    from rnnops.train_stage import load_prepared
    prepared = load_prepared(args.prepared)
    names = args.members.split(",") if args.members else [*params.models, "tuned"]
    run_params = flatten({"evaluate": params.evaluate.model_dump(), "members": ",".join(names)})
    with tracking.stage_run("evaluate", prepared.dataset, run_params):
        result = evaluate_stage.evaluate(params, prepared, names, args.models)
        metrics = evaluate_stage.summary(result.scores, result.winner.name, params.evaluate.metric, result.end_to_end)
        outputs = ("metrics/evaluate.json", "evaluation/details.json", "evaluation/registry.json",
                   "plots/evaluate/confusion.csv", "plots/evaluate/roc.csv")
        with atomic.staged_outputs(*outputs) as (metrics_path, details, decision_path, confusion, roc):
            metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
            details.write_text(json.dumps(result.scores, indent=2) + "\n")
            evaluate_stage.plots(result.scores, result.winner.name, prepared.arrays["test"][1],
                                 result.test_proba, prepared.label_names, confusion, roc)
            evaluate_stage.log_to_mlflow(result, metrics, [metrics_path, details, confusion, roc])
            decision = evaluate_stage.register(params, prepared, result) if params.evaluate.registry else {}
            decision_path.write_text(json.dumps(decision, indent=2) + "\n")
        winner = metrics["winner_test"]
        print(f"evaluate: winner {result.winner.name} {result.winner.weights}: test accuracy "
              f"{winner['accuracy']:.4f}, macro-F1 {winner['macro_f1']:.4f}")
        if decision:
            print(registry.describe(decision))


if __name__ == "__main__":
    run_main(main)
