"""The forecasting task's report part: every model, classical peer and ensemble on validation and
test (MAE, RMSE, MASE, sMAPE, R²), MASE per horizon step, and the figures: the test period with
the winner and the best baseline, error per step, residuals, training curves."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from rnnops import plots
from rnnops.report_html import closing_sections, html

# flag of pipeline/report.py -> default path (dvc.yaml passes every one)
INPUTS = {"data-stats": "data/stats.json", "prepared": "data/prepared", "histories": "plots/train",
          "evaluate-metrics": "metrics/evaluate.json", "evaluation": "evaluation",
          "forecast": "plots/evaluate/forecast.csv", "per-step": "plots/evaluate/per_step.csv",
          "tune-summary": "tuning/study.json", "best": "tuning/best_params.json"}


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def collect(paths: dict[str, Path], names: list[str]) -> dict:
    return {
        "data": _read(paths["data_stats"]), "spec": _read(paths["prepared"] / "spec.json"),
        "history": {n: pd.read_csv(paths["histories"] / f"{n}.csv") for n in names
                    if (paths["histories"] / f"{n}.csv").exists()},
        "evaluate": _read(paths["evaluate_metrics"]), "winner": _read(paths["evaluation"] / "winner.json"),
        "details": _read(paths["evaluation"] / "details.json"),
        "registry": _read(paths["evaluation"] / "registry.json"),
        "forecast": pd.read_csv(paths["forecast"]), "per_step": pd.read_csv(paths["per_step"]),
        "tune": _read(paths["tune_summary"]), "best": _read(paths["best"]),
    }


def experiment_key(inputs: dict) -> str:
    return inputs["spec"]["dataset"]


def curves(inputs: dict) -> pd.DataFrame:
    """plots/curves.csv: validation loss and MAE (scaled units) per model and epoch, long form."""
    columns = ["model", "epoch", "val_loss", "val_mae"]
    frames = [h[["epoch", "val_loss", "val_mae"]].assign(model=n) for n, h in sorted(inputs["history"].items())]
    return pd.concat(frames)[columns] if frames else pd.DataFrame(columns=columns)


def candidates_table(inputs: dict) -> pd.DataFrame:
    winner = inputs["winner"]["winner"]
    rows = [{"candidate": n + (" (winner)" if n == winner else ""),
             "kind": "baseline" if n in inputs["winner"]["peers"] else
             ("ensemble" if n in ("mean", "greedy") else "model"),
             **{f"val {k}": d["val"][k] for k in ("mae", "mase")},
             **{f"test {k}": d["test"][k] for k in ("mae", "rmse", "mase", "smape", "r2")}}
            for n, d in inputs["details"].items()]
    return pd.DataFrame(rows).sort_values("val mase", kind="stable")


def markdown(inputs: dict, figs: dict[str, Path], base: Path) -> str:
    data, spec, chosen, ev = inputs["data"], inputs["spec"], inputs["winner"], inputs["evaluate"]
    per_step = inputs["per_step"].pivot(index="model", columns="step", values="mase")
    per_step.columns = [f"step {c}" for c in per_step.columns]
    lines = [f"# rnnops report: {spec.get('dataset', '?')}", "", "## Series", "",
             f"- {data.get('steps')} steps of {data.get('frequency')} from {data.get('start')} to "
             f"{data.get('end')} ({data.get('filled')} values filled)",
             f"- windows of {spec.get('window')} steps -> the next {spec.get('horizon')}; per split: {data.get('windows')}",
             f"- periods forecast: {data.get('periods')}", "",
             "## Candidates (chosen on validation, scored once on test)", "",
             "Errors in the series' units; MASE is scaled by seasonal naive's in-sample MAE on train; "
             "sMAPE in percent.", "",
             candidates_table(inputs).to_markdown(index=False, floatfmt=".4f"), "",
             "## Test MASE per horizon step", "", per_step.to_markdown(floatfmt=".4f"), "",
             f"Winner on {chosen['selection_metric']}: **{chosen['winner']}** {chosen['weights']} (test MAE "
             f"{ev['test']['mae']:.4f}, MASE {ev['test']['mase']:.4f}). The served model reproduces its test "
             f"forecasts at {chosen['end_to_end']['origins_checked']} origins (max difference "
             f"{chosen['end_to_end']['max_difference']:.2g}).", ""]
    lines += closing_sections(inputs, [(title, figs[key]) for title, key in (("Test period, one step ahead", "forecast"), ("MASE per horizon step", "per_step"),
                       ("Residuals", "residuals"), ("Training curves", "curves"))], base)
    return "\n".join(lines)


def write(inputs: dict, out: Path, curves_path: Path) -> None:
    curves(inputs).to_csv(curves_path, index=False, float_format="%.6g")
    folder = out / "figures"
    folder.mkdir(parents=True)
    forecast = inputs["forecast"]
    winner_column = next(c for c in forecast.columns if c.startswith("winner"))
    figs = {"forecast": plots.forecast_vs_actual(forecast, folder / "forecast_test.png"),
            "per_step": plots.error_per_step(inputs["per_step"].rename(columns={"model": "candidate"}), "mase",
                                             folder / "mase_per_step.png"),
            "residuals": plots.residual_histogram(forecast["actual"] - forecast[winner_column],
                                                  folder / "residuals_test.png"),
            "curves": plots.validation_curves(inputs["history"], folder / "training_curves.png", "mae")}
    text = markdown(inputs, figs, out)
    (out / "report.md").write_text(text + "\n", encoding="utf-8")
    (out / "report.html").write_text(html(text, out), encoding="utf-8")


def log_to_mlflow(inputs: dict, folder: Path) -> None:
    import mlflow

    mlflow.log_metrics({f"winner_test.{k}": v for k, v in inputs["evaluate"]["test"].items()})
    mlflow.log_artifacts(str(folder), "report")
