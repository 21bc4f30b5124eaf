"""DVC stage `report`: reports/report.md (with reports/figures/) and a self-contained
reports/report.html from the pipeline's outputs; also logged to MLflow."""
import argparse
from pathlib import Path

from rnnops.errors import run_main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args()

    from rnnops.config import load_params
    params = load_params(args.params)  # exits 2 on any problem, before TensorFlow is imported

    from rnnops import atomic, report, tracking
    inputs = report.collect(Path("."), [*params.models, "tuned"])
    with tracking.stage_run("report", inputs["spec"]["dataset"]):
        with atomic.staged_outputs(args.out) as (out,):
            figures = report.figures(inputs, out / "figures")
            text = report.markdown(inputs, figures, out)
            (out / "report.md").write_text(text + "\n", encoding="utf-8")
            (out / "report.html").write_text(report.html(text, out), encoding="utf-8")
            report.log_to_mlflow(out)
        print(f"report: {args.out / 'report.md'}, {args.out / 'report.html'}")


if __name__ == "__main__":
    run_main(main)
