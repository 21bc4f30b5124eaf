"""DVC stage `prepare`: load the dataset, validate, split, tokenize and pad; track in MLflow."""
import argparse
from pathlib import Path

from rnnops.errors import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", type=Path, default=Path("data/prepared"))
    parser.add_argument("--stats", type=Path, default=Path("data/stats.json"),
                        help="output: split sizes, class balance, OOV rate, lengths, dropped counts")
    parser.add_argument("--plots", type=Path, default=Path("plots/data"))
    args = parser.parse_args()

    from rnnops.params.load import load_params
    params = load_params(args.params)  # exits 2 on any problem, before TensorFlow is imported

    from rnnops import atomic
    from rnnops.data.sources import dataset_name
    from rnnops.project import flatten
    from rnnops.stages import prepare
    from rnnops.tracking import runs
    run_params = flatten({"seed": params.seed, "data": params.data.model_dump()})
    with runs.stage_run("prepare", dataset_name(params.data), run_params):
        prep = prepare.prepare(params)
        # Nothing reaches the final paths unless every output (and the MLflow logging) succeeded.
        with atomic.staged_outputs(args.out, args.stats, args.plots) as (out, stats, plots):
            prepare.write(prep, out, stats, plots)
            prepare.log_to_mlflow(prep, out, stats, plots)
    print(f"prepare: {prep.data.dataset}: {prep.stats['size']}, {prep.data.spec['num_classes']} classes, "
          f"vocabulary {prep.data.spec['vocab_size']} -> {args.out}")


if __name__ == "__main__":
    run_main(main)
