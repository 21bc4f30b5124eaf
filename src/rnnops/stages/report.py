"""The report stage: reports/report.md (figures beside it) and a self-contained report.html.

The text adds no timestamps and the PNGs carry no metadata, so the same inputs give the same
report; the inputs themselves hold training times and the registry's version number, which
differ between runs.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rnnops import plots
from rnnops.report_html import closing_sections, html


# flag of pipeline/report.py -> default path (dvc.yaml passes every one)
INPUTS = {"data-stats": "data/stats.json", "prepared": "data/prepared", "train-metrics": "metrics/train",
          "models": "models", "histories": "plots/train", "evaluate-metrics": "metrics/evaluate.json",
          "evaluation": "evaluation", "roc": "plots/evaluate/roc.csv", "tune-summary": "tuning/study.json",
          "best": "tuning/best_params.json"}


@dataclass(frozen=True)
class ReportInputs:
    """Where the report reads each pipeline output (dvc.yaml passes every path)."""
    data_stats: Path         # data/stats.json
    prepared: Path           # data/prepared (spec.json)
    train_metrics: Path      # metrics/train/<name>.json (scores)
    models: Path             # models/<name>/run.json (run ids, epochs, size, timings)
    histories: Path          # plots/train/<name>.csv
    evaluate_metrics: Path   # metrics/evaluate.json (the winner's scores)
    evaluation: Path         # evaluation/winner.json, details.json, registry.json
    roc: Path                # plots/evaluate/roc.csv
    tune_summary: Path       # tuning/study.json
    best: Path               # tuning/best_params.json


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def collect(paths: ReportInputs | dict, names: list[str]) -> dict:
    """Everything the report shows, from the pipeline's outputs (paths: INPUTS' keys with _)."""
    if isinstance(paths, dict):
        paths = ReportInputs(**paths)
    return {
        "data": _read(paths.data_stats),
        "spec": _read(paths.prepared / "spec.json"),
        "train": {n: _read(paths.train_metrics / f"{n}.json") for n in names},
        "runs": {n: _read(paths.models / n / "run.json") for n in names},
        "history": {n: pd.read_csv(paths.histories / f"{n}.csv") for n in names
                    if (paths.histories / f"{n}.csv").exists()},
        "evaluate": _read(paths.evaluate_metrics),
        "winner": _read(paths.evaluation / "winner.json"),
        "details": _read(paths.evaluation / "details.json"),
        "registry": _read(paths.evaluation / "registry.json"),
        "tune": _read(paths.tune_summary),
        "best": _read(paths.best),
        "roc": pd.read_csv(paths.roc),
    }


def models_table(inputs: dict) -> pd.DataFrame:
    rows = []
    for name in inputs["train"]:
        ev, m = inputs["details"].get(name, {}), inputs["runs"].get(name, {}).get("training", {})
        rows.append({"model": name, "architecture": m.get("architecture"), "parameters": m.get("params_count"),
                     "epochs (best/run)": f"{m.get('best_epoch')}/{m.get('epochs_run')}",
                     "train s": m.get("train_seconds"), "samples/s": m.get("samples_per_second"),
                     "val acc": ev.get("val", {}).get("accuracy"), "val F1": ev.get("val", {}).get("macro_f1"),
                     "test acc": ev.get("test", {}).get("accuracy"), "test F1": ev.get("test", {}).get("macro_f1"),
                     "test AUC": ev.get("test", {}).get("roc_auc"),
                     "MLflow run": inputs["runs"].get(name, {}).get("run_id", "")[:12]})
    return pd.DataFrame(rows)


def figures(inputs: dict, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    details, winner = inputs["details"], inputs["winner"]["winner"]
    best = details[winner]["test"]
    return {
        "curves": plots.validation_curves(inputs["history"], folder / "training_curves.png"),
        "comparison": plots.model_comparison({n: m["test"]["accuracy"] for n, m in details.items()},
                                             winner, folder / "comparison.png"),
        "confusion": plots.confusion_matrix(best["confusion"], list(best["per_class"]),
                                            folder / "confusion_matrix.png"),
        "roc": plots.roc_curves(inputs["roc"], folder / "roc.png"),
    }


def curves(inputs: dict) -> pd.DataFrame:
    """plots/curves.csv: every model's validation loss and accuracy per epoch in long form (one
    row per model and epoch), so one DVC plot draws a line per model whatever models exist
    (the template .dvc/plots/lines_by_model.json colours by `model`)."""
    frames = [h[["epoch", "val_loss", "val_accuracy"]].assign(model=name)
              for name, h in sorted(inputs["history"].items())]
    columns = ["model", "epoch", "val_loss", "val_accuracy"]
    return pd.concat(frames)[columns] if frames else pd.DataFrame(columns=columns)


def headline(inputs: dict) -> dict:
    """The numbers the report leads with, for its MLflow run."""
    out = {f"winner_test.{k}": v for k, v in inputs["evaluate"]["test"].items()}
    if inputs["tune"]:
        out["tune.best_value"] = inputs["tune"]["best_value"]
    if inputs["registry"]:
        out["registry.version"] = int(inputs["registry"]["version"])
    return out


def markdown(inputs: dict, figs: dict[str, Path], base: Path) -> str:
    data, spec, ev, chosen = inputs["data"], inputs["spec"], inputs["evaluate"], inputs["winner"]
    details, winner = inputs["details"], chosen["winner"]
    members = [n for n in details if n in inputs["train"]]
    best_member = max(members, key=lambda n: details[n]["val"]["accuracy"])
    lines = [f"# rnnops report: {spec.get('dataset', '?')}", "",
             "## Dataset", "",
             f"- documents per split: {data.get('size')}", f"- classes: {', '.join(spec.get('label_names', []))}",
             f"- vocabulary: {spec.get('vocab_size')} tokens, sequences of at most {spec.get('max_len')} tokens", "",
             "## Models", "", models_table(inputs).to_markdown(
                 index=False, floatfmt=("", "", ".0f", "", ".1f", ".0f", ".4f", ".4f", ".4f", ".4f", ".4f", "")), "",
             "## Ensembles versus the best member", "",
             "| candidate | weights | val accuracy | test accuracy | test macro-F1 | test log loss |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name in ("soft_vote", "greedy", best_member):
        d = details[name]
        weights = ", ".join(f"{m} {w:.2f}" for m, w in d["weights"].items())
        lines.append(f"| {name} | {weights} | {d['val']['accuracy']:.4f} | {d['test']['accuracy']:.4f} | "
                     f"{d['test']['macro_f1']:.4f} | {d['test']['loss']:.4f} |")
    lines += ["", f"Winner on {chosen['selection_metric']}: **{winner}** (test accuracy "
              f"{ev['test']['accuracy']:.4f}, macro-F1 {ev['test']['macro_f1']:.4f}). "
              f"The raw-text model reproduces it exactly: {chosen['end_to_end']['predictions_identical']}.", ""]
    lines += closing_sections(inputs, [(title, figs[key]) for title, key in (("Training curves", "curves"), ("Comparison", "comparison"),
                       ("Confusion matrix", "confusion"), ("ROC", "roc"))], base)
    return "\n".join(lines)


def experiment_key(inputs: dict) -> str:
    return inputs["spec"]["dataset"]


def write(inputs: dict, out: Path, curves_path: Path) -> None:
    """reports/report.md with its figures, report.html, and plots/curves.csv, into the (temporary)
    paths given."""
    curves(inputs).to_csv(curves_path, index=False, float_format="%.6g")
    figs = figures(inputs, out / "figures")
    text = markdown(inputs, figs, out)
    (out / "report.md").write_text(text + "\n", encoding="utf-8")
    (out / "report.html").write_text(html(text, out), encoding="utf-8")


def log_to_mlflow(inputs: dict, folder: Path) -> None:
    """The report's files and headline numbers (winner's test metrics) on the active run."""
    import mlflow

    mlflow.log_metrics(headline(inputs))
    mlflow.set_tag("rnnops.winner", inputs["winner"]["winner"])
    mlflow.log_artifacts(str(folder), "report")
