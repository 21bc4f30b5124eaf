"""DVC stage `prepare`: load the dataset, validate, split and transform it (the task's way: text
is tokenized and padded, a series is scaled and cut into windows); track it in MLflow."""
import argparse
from pathlib import Path

from rnnops.errors import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", type=Path, default=Path("data/prepared"))
    parser.add_argument("--stats", type=Path, default=Path("data/stats.json"),
                        help="output: split sizes and the facts of the data (class balance, lengths, ...)")
    parser.add_argument("--plots", type=Path, default=Path("plots/data"))
    args = parser.parse_args()

    from rnnops.params.load import load_params
    params = load_params(args.params)  # exits 2 on any problem, before TensorFlow is imported

    from rnnops import atomic, tasks
    from rnnops.project import flatten
    from rnnops.tracking import runs
    prepare = tasks.get(params.task).part("prepare")
    with runs.stage_run("prepare", prepare.experiment_key(params), flatten(prepare.run_params(params))):
        prep = prepare.prepare(params)
        # Nothing reaches the final paths unless every output (and the MLflow logging) succeeded.
        with atomic.staged_outputs(args.out, args.stats, args.plots) as (out, stats, plots):
            prepare.write(prep, out, stats, plots)
            prepare.log_to_mlflow(prep, out, stats, plots)
    print(f"prepare: {prepare.describe(prep, args.out)}")


if __name__ == "__main__":
    run_main(main)
