"""DVC stage `evaluate`: every trained model (and the task's classical peers) and the ensembles,
chosen on validation, scored once on test; the winner registered as rnnops-<dataset> in MLflow.

The registry changes only together with the stage's outputs: if anything fails after the winner
was registered (writing, committing the outputs), the new version is deleted and the aliases
are put back."""
import argparse
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
                        help="output folder: one file of val and test scores per ensemble")
    parser.add_argument("--evaluation", type=Path, default=Path("evaluation"),
                        help="output folder: winner.json, details.json, registry.json, model/ (the "
                             "winner as an MLflow model folder, for `make serve` without the registry)")
    parser.add_argument("--plots", type=Path, default=Path("plots/evaluate"),
                        help="output folder: the task's plot tables (DVC plots)")
    args = parser.parse_args()

    from rnnops.params.load import load_params
    params = load_params(args.params)  # exits 2 on any problem, before TensorFlow is imported

    from rnnops import tasks
    from rnnops.project import flatten
    from rnnops.tracking import registry, runs
    task = tasks.get(params.task)
    evaluate = task.part("evaluate")
    prepared = task.part("prepare").load(args.prepared)
    names = args.members.split(",") if args.members else [*params.models, "tuned"]
    run_params = flatten({"evaluate": params.evaluate.model_dump(), "members": ",".join(names)})
    with runs.stage_run("evaluate", prepared.dataset, run_params, data=prepared.as_input("evaluation")):
        result = evaluate.evaluate(params, prepared, names, args.models)
        decision = evaluate.run(params, prepared, result, args.models, args.metrics, args.ensembles,
                                args.evaluation, args.plots)
    print(evaluate.describe(result, decision))
    if decision:
        print(registry.describe(decision))


if __name__ == "__main__":
    run_main(main)
