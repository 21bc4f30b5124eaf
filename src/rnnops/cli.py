"""The `rnnops` command: classify raw text, and look after the project's MLflow runs.

    rnnops predict "what a lovely day" "the flight was late"   # the registry champion
    rnnops predict --file reviews.txt --json                     # one text per line
    cat reviews.txt | rnnops predict --model models/lstm          # a trained model folder
    rnnops predict --model models:/rnnops-tweets@challenger "..."
    rnnops runs reap       # end RUNNING runs whose process is gone (SIGKILL) as KILLED
    rnnops runs urls       # the MLflow UI's runs-table link of each project experiment
"""
from __future__ import annotations

import argparse
import sys

from rnnops.errors import run_main


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rnnops", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="classify raw texts (label and class probabilities)")
    predict.add_argument("texts", nargs="*", help="texts to classify (or --file, or lines on stdin)")
    predict.add_argument("--file", help="a UTF-8 file with one text per line; '-' reads stdin")
    predict.add_argument("--model", default="champion", help=(
        "registry alias (champion, challenger) of rnnops-<dataset>, an MLflow model URI "
        "(models:/..., runs:/...), an MLflow model folder, a model folder models/<name> or its "
        "text_model.keras (default: champion)"))
    predict.add_argument("--dataset", help="registry model rnnops-<dataset> (default: data.source in params.yaml)")
    predict.add_argument("--params", default="params.yaml", help="where --dataset defaults come from")
    predict.add_argument("--json", action="store_true", help="JSON output: text, label, probabilities")
    runs = commands.add_parser("runs", help="the project's MLflow runs")
    runs.add_argument("action", choices=("reap", "urls"), help=(
        "reap: end as KILLED every RUNNING run of this host whose process is gone; "
        "urls: print the runs-table URL of each rnnops-* experiment"))
    runs.add_argument("--ui", default="http://127.0.0.1:5000", help="the MLflow UI's address (urls)")
    return parser.parse_args(argv)


def runs_command(args: argparse.Namespace) -> None:
    import mlflow

    from rnnops.tracking import runs

    mlflow.set_tracking_uri(runs.tracking_uri())
    if args.action == "reap":
        gone = runs.reap()
        for r in gone:
            print(f"KILLED {r.info.run_id} {r.info.run_name} (pid {r.data.tags['rnnops.pid']} is gone)")
        print(f"reaped {len(gone)} run(s)")
        return
    experiments = mlflow.MlflowClient().search_experiments(filter_string="name LIKE 'rnnops-%'")
    for e in sorted(experiments, key=lambda e: e.name):
        print(f"{e.name}: {runs.runs_url(args.ui, e.experiment_id)}")
    if not experiments:
        print(f"no rnnops experiments yet in {mlflow.get_tracking_uri()}: run `make repro` first")


def dataset_default(args: argparse.Namespace) -> str:
    if args.dataset:
        return args.dataset
    from rnnops.data.sources import dataset_name
    from rnnops.params.load import load_params

    return dataset_name(load_params(args.params).data)


def main(argv: list[str] | None = None) -> None:
    def run() -> None:
        args = parse(argv)
        if args.command == "runs":
            return runs_command(args)
        from rnnops import predict

        texts = predict.read_texts(args.texts, args.file, sys.stdin)
        needs_dataset = args.model in predict.ALIASES or args.model.startswith("@")
        model = predict.load(args.model, dataset_default(args) if needs_dataset else "")
        print(predict.render(texts, model(texts), args.json))

    run_main(run)


if __name__ == "__main__":
    main()
