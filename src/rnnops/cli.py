"""The `rnnops` command: `rnnops predict "some text" ...` classifies raw text.

    rnnops predict "what a lovely day" "the flight was late"   # the registry champion
    rnnops predict --file reviews.txt --json                     # one text per line
    cat reviews.txt | rnnops predict --model models/lstm          # a trained model folder
    rnnops predict --model models:/rnnops-tweets@challenger "..."
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
    return parser.parse_args(argv)


def dataset_default(args: argparse.Namespace) -> str:
    if args.dataset:
        return args.dataset
    from rnnops.config import load_params
    from rnnops.sources import dataset_name

    return dataset_name(load_params(args.params).data)


def main(argv: list[str] | None = None) -> None:
    def run() -> None:
        args = parse(argv)
        from rnnops import predict

        texts = predict.read_texts(args.texts, args.file, sys.stdin)
        needs_dataset = args.model in predict.ALIASES or args.model.startswith("@")
        model = predict.load(args.model, dataset_default(args) if needs_dataset else "")
        print(predict.render(texts, model(texts), args.json))

    run_main(run)


if __name__ == "__main__":
    main()
