"""DVC stage `evaluate`: every trained model, soft voting and greedy ensemble selection, chosen
on validation, scored once on test; the winner registered as rnnops-<dataset> in MLflow.

The registry changes only together with the stage's outputs: if anything fails after the winner
was registered (writing, committing the outputs), the new version is deleted and the aliases
are put back."""
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
    parser.add_argument("--metrics", type=Path, default=Path("metrics/evaluate.json"))
    parser.add_argument("--ensembles", type=Path, default=Path("metrics/ensembles"),
                        help="output folder: soft_vote.json, greedy.json (their val and test scores)")
    parser.add_argument("--evaluation", type=Path, default=Path("evaluation"),
                        help="output folder: winner.json, details.json, registry.json, model/ (the "
                             "winner as an MLflow model folder, for `make serve` without the registry)")
    parser.add_argument("--confusion", type=Path, default=Path("plots/evaluate/confusion.csv"))
    parser.add_argument("--roc", type=Path, default=Path("plots/evaluate/roc.csv"))
    args = parser.parse_args()

    from rnnops.params.load import load_params
    params = load_params(args.params)  # exits 2 on any problem, before TensorFlow is imported

    from rnnops import atomic, faults
    from rnnops.data import prepared as prepared_data
    from rnnops.project import flatten
    from rnnops.stages import evaluate
    from rnnops.tracking import registry, runs
    prepared = prepared_data.load(args.prepared)
    names = args.members.split(",") if args.members else [*params.models, "tuned"]
    run_params = flatten({"evaluate": params.evaluate.model_dump(), "members": ",".join(names)})
    y_test = prepared.arrays["test"][1]
    with runs.stage_run("evaluate", prepared.dataset, run_params, data=prepared.as_input("evaluation")):
        result = evaluate.evaluate(params, prepared, names, args.models)
        metrics = evaluate.summary(result.scores, result.winner.name, params.evaluate.promote_metric,
                                   result.split_sha256)
        winner = evaluate.winner_record(result, args.models, prepared.label_names, params.evaluate.metric)
        decision = {}
        try:
            outputs = (args.metrics, args.ensembles, args.evaluation, args.confusion, args.roc)
            with atomic.staged_outputs(*outputs) as (metrics_path, ensembles, folder, confusion, roc):
                folder.mkdir()
                ensembles.mkdir()
                metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
                for name, scores in evaluate.ensemble_scores(result.scores).items():
                    (ensembles / f"{name}.json").write_text(json.dumps(scores, indent=2) + "\n")
                winner["model"] = evaluate.save_model(result, prepared.directory / "labels.json",
                                                      folder / "model", args.evaluation / "model")
                (folder / "winner.json").write_text(json.dumps(winner, indent=2) + "\n")
                (folder / "details.json").write_text(json.dumps(result.scores, indent=2) + "\n")
                evaluate.plot_tables(y_test, result.test_proba, prepared.label_names, confusion, roc)
                evaluate.log_to_mlflow(result, prepared.label_names, y_test, roc,
                                       [metrics_path, folder / "winner.json", folder / "details.json", confusion, roc])
                if params.evaluate.registry:
                    decision = evaluate.register(params, prepared, result)
                    faults.point("evaluate.after_register")
                shown = {k: v for k, v in decision.items() if k != "previous_aliases"}
                (folder / "registry.json").write_text(json.dumps(shown, indent=2) + "\n")
        except BaseException:
            if decision:
                registry.rollback(decision)
            raise
    print(f"evaluate: winner {result.winner.name} {result.winner.weights}: test accuracy "
          f"{metrics['test']['accuracy']:.4f}, macro-F1 {metrics['test']['macro_f1']:.4f}")
    if decision:
        print(registry.describe(decision))


if __name__ == "__main__":
    run_main(main)
