"""DVC stage `report`: reports/report.md (with reports/figures/) and a self-contained
reports/report.html from the pipeline's outputs; also logged to MLflow."""
import argparse
from pathlib import Path

from rnnops.errors import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--curves", type=Path, default=Path("plots/curves.csv"),
                        help="output: every model's validation curves, one row per model and epoch")
    inputs = {"data-stats": "data/stats.json", "prepared": "data/prepared",
              "train-metrics": "metrics/train", "models": "models", "histories": "plots/train",
              "evaluate-metrics": "metrics/evaluate.json", "evaluation": "evaluation",
              "roc": "plots/evaluate/roc.csv", "tune-summary": "tuning/study.json",
              "best": "tuning/best_params.json"}
    for flag, default in inputs.items():
        parser.add_argument(f"--{flag}", type=Path, default=Path(default), help=f"input (default {default})")
    args = parser.parse_args()

    from rnnops.params.load import load_params
    params = load_params(args.params)  # exits 2 on any problem, before TensorFlow is imported

    from rnnops import atomic
    from rnnops.stages import report
    from rnnops.tracking import runs
    paths = report.ReportInputs(**{flag.replace("-", "_"): getattr(args, flag.replace("-", "_"))
                                   for flag in inputs})
    collected = report.collect(paths, [*params.models, "tuned"])
    with runs.stage_run("report", collected["spec"]["dataset"]):
        with atomic.staged_outputs(args.out, args.curves) as (out, curves):
            report.curves(collected).to_csv(curves, index=False, float_format="%.6g")
            figures = report.figures(collected, out / "figures")
            text = report.markdown(collected, figures, out)
            (out / "report.md").write_text(text + "\n", encoding="utf-8")
            (out / "report.html").write_text(report.html(text, out), encoding="utf-8")
            report.log_to_mlflow(collected, out)
    print(f"report: {args.out / 'report.md'}, {args.out / 'report.html'}")


if __name__ == "__main__":
    run_main(main)
