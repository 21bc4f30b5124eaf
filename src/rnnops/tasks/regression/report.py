"""The regression task's report part: every model, classical peer and ensemble on validation
(out-of-fold with K folds) and test (MAE, RMSE, R²), per-fold scores with mean ± std, and the
figures: predicted vs actual, residuals, scores per fold, training curves."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from rnnops import plots
from rnnops.report_html import closing_sections, html

# flag of pipeline/report.py -> default path (dvc.yaml passes every one)
INPUTS = {"data-stats": "data/stats.json", "prepared": "data/prepared", "histories": "plots/train",
          "evaluate-metrics": "metrics/evaluate.json", "evaluation": "evaluation",
          "predictions": "plots/evaluate/predictions.csv",
          "tune-summary": "tuning/study.json", "best": "tuning/best_params.json"}


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def collect(paths: dict[str, Path], names: list[str]) -> dict:
    details = _read(paths["evaluation"] / "details.json")
    return {
        "data": _read(paths["data_stats"]), "spec": _read(paths["prepared"] / "spec.json"),
        "history": {n: pd.read_csv(paths["histories"] / f"{n}.csv") for n in names
                    if (paths["histories"] / f"{n}.csv").exists()},
        "evaluate": _read(paths["evaluate_metrics"]), "winner": _read(paths["evaluation"] / "winner.json"),
        "scores": details.get("scores", {}), "folds": details.get("folds", {}),
        "registry": _read(paths["evaluation"] / "registry.json"),
        "predictions": pd.read_csv(paths["predictions"]),
        "tune": _read(paths["tune_summary"]), "best": _read(paths["best"]),
    }


def experiment_key(inputs: dict) -> str:
    return inputs["spec"]["dataset"]


def curves(inputs: dict) -> pd.DataFrame:
    """plots/curves.csv: validation loss and MAE (scaled target) per model and epoch, long form
    (with K folds, the mean over the folds that ran each epoch)."""
    columns = ["model", "epoch", "val_loss", "val_mae"]
    frames = [h[["epoch", "val_loss", "val_mae"]].assign(model=n) for n, h in sorted(inputs["history"].items())
              if "val_loss" in h]
    return pd.concat(frames)[columns] if frames else pd.DataFrame(columns=columns)


def candidates_table(inputs: dict, names: list[str]) -> pd.DataFrame:
    winner, scores = inputs["winner"]["winner"], inputs["scores"]
    keys = [k for k in ("mae", "rmse", "r2", "within_1") if k in next(iter(scores.values()))["test"]]
    rows = [{"candidate": n + (" (winner)" if n == winner else ""),
             "kind": "ensemble" if n in ("average", "greedy") else ("model" if n in names else "baseline"),
             **{f"val {k}": d["val"][k] for k in ("mae", "rmse")},
             **{f"test {k}": d["test"][k] for k in keys}} for n, d in scores.items()]
    return pd.DataFrame(rows).sort_values("val mae", kind="stable")


def folds_table(inputs: dict) -> pd.DataFrame:
    """One row per model: validation MAE per fold, then mean ± std."""
    rows = []
    for name, per_fold in inputs["folds"].items():
        maes = [f["mae"] for f in per_fold]
        mean = sum(maes) / len(maes)
        std = (sum((m - mean) ** 2 for m in maes) / len(maes)) ** 0.5
        rows.append({"model": name, **{f"fold {f['fold']}": f["mae"] for f in per_fold},
                     "mean ± std": f"{mean:.4f} ± {std:.4f}",
                     "best epochs": ", ".join(str(f["best_epoch"]) for f in per_fold)})
    return pd.DataFrame(rows)


def markdown(inputs: dict, figs: dict[str, Path], base: Path) -> str:
    data, spec, chosen, ev = inputs["data"], inputs["spec"], inputs["winner"], inputs["evaluate"]
    names = list(inputs["folds"]) or list(inputs["history"])
    what = f"{len(spec.get('features', []))} features" if spec.get("inputs") == "tabular" else "texts"
    lines = [f"# rnnops report: {spec.get('dataset', '?')}", "", "## Data", "",
             f"- {what} -> `{spec.get('target')}`; rows per split {data.get('rows')} ({spec.get('split')} split)",
             f"- training target: {data.get('target_train')}", "",
             "## Candidates (chosen on validation, scored once on test)", "",
             f"Validation is {chosen.get('selection', 'val')}; errors in the target's units.", "",
             candidates_table(inputs, names).to_markdown(index=False, floatfmt=".4f"), ""]
    if inputs["folds"]:
        lines += ["## Validation MAE per fold", "", folds_table(inputs).to_markdown(index=False, floatfmt=".4f"), ""]
    lines += [f"Winner on {chosen['selection_metric']}: **{chosen['winner']}** {chosen['weights']} (test MAE "
              f"{ev['test']['mae']:.4f}, RMSE {ev['test']['rmse']:.4f}, R² {ev['test']['r2']:.4f}). The served "
              f"model reproduces its test predictions on {chosen['end_to_end']['rows_checked']} rows (max "
              f"difference {chosen['end_to_end']['max_difference']:.2g}).", ""]
    figures = [("Predicted vs actual, residuals (test)", "scatter"), ("Residuals", "residuals"),
               ("Training curves", "curves")] + ([("Validation MAE per fold", "folds")] if "folds" in figs else [])
    lines += closing_sections(inputs, [(title, figs[key]) for title, key in figures], base)
    return "\n".join(lines)


def write(inputs: dict, out: Path, curves_path: Path) -> None:
    curves(inputs).to_csv(curves_path, index=False, float_format="%.6g")
    folder = out / "figures"
    folder.mkdir(parents=True)
    table, target = inputs["predictions"], inputs["spec"].get("target", "target")
    figs = {"scatter": plots.predicted_vs_actual(table["actual"], table["predicted"], target,
                                                 folder / "predicted_vs_actual.png"),
            "residuals": plots.residual_histogram(table["actual"] - table["predicted"], folder / "residuals_test.png",
                                                  "actual - predicted (test rows)"),
            "curves": plots.validation_curves(inputs["history"], folder / "training_curves.png", "mae")}
    if inputs["folds"]:
        rows = pd.DataFrame([{"model": n, **f} for n, per_fold in inputs["folds"].items() for f in per_fold])
        figs["folds"] = plots.fold_scores(rows, "mae", folder / "mae_per_fold.png")
    text = markdown(inputs, figs, out)
    (out / "report.md").write_text(text + "\n", encoding="utf-8")
    (out / "report.html").write_text(html(text, out), encoding="utf-8")


def log_to_mlflow(inputs: dict, folder: Path) -> None:
    import mlflow

    mlflow.log_metrics({f"winner_test.{k}": v for k, v in inputs["evaluate"]["test"].items()})
    mlflow.log_artifacts(str(folder), "report")
