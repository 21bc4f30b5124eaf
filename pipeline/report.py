"""DVC stage `report`: reports/report.md (with reports/figures/) and a self-contained
reports/report.html from the pipeline's outputs; also logged to MLflow. The inputs are the task's
(`rnnops.tasks`: its report part's INPUTS, each a flag)."""
import argparse
from pathlib import Path

from rnnops.errors import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--curves", type=Path, default=Path("plots/curves.csv"),
                        help="output: every model's validation curves, one row per model and epoch")
    known, _ = parser.parse_known_args()

    from rnnops.params.load import load_params
    params = load_params(known.params)  # exits 2 on any problem, before TensorFlow is imported

    from rnnops import tasks
    report = tasks.get(params.task).part("report")
    for flag, default in report.INPUTS.items():
        parser.add_argument(f"--{flag}", type=Path, default=Path(default), help=f"input (default {default})")
    args = parser.parse_args()

    from rnnops import atomic
    from rnnops.tracking import runs
    paths = {flag.replace("-", "_"): getattr(args, flag.replace("-", "_")) for flag in report.INPUTS}
    collected = report.collect(paths, [*params.models, "tuned"])
    with runs.stage_run("report", report.experiment_key(collected)):
        with atomic.staged_outputs(args.out, args.curves) as (out, curves):
            report.write(collected, out, curves)
            report.log_to_mlflow(collected, out)
    print(f"report: {args.out / 'report.md'}, {args.out / 'report.html'}")


if __name__ == "__main__":
    run_main(main)
