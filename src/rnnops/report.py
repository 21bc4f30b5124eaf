"""The report stage: reports/report.md (figures beside it) and a self-contained report.html.

Content is deterministic for the same inputs (no timestamps; PNGs written without metadata), so
DVC caches it and `git diff`/`dvc diff` show real changes only.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pandas as pd

from rnnops.plots import _pyplot

PNG = {"metadata": {"Software": None}, "dpi": 100, "bbox_inches": "tight"}


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def collect(root: Path, names: list[str]) -> dict:
    """Everything the report shows, from the pipeline's outputs under `root`."""
    return {
        "data": _read(root / "metrics" / "data.json"),
        "spec": _read(root / "data" / "prepared" / "spec.json"),
        "train": {n: _read(root / "metrics" / "train" / f"{n}.json") for n in names},
        "runs": {n: _read(root / "models" / n / "run.json") for n in names},
        "history": {n: pd.read_csv(root / "plots" / "train" / f"{n}.csv") for n in names
                    if (root / "plots" / "train" / f"{n}.csv").exists()},
        "evaluate": _read(root / "metrics" / "evaluate.json"),
        "details": _read(root / "evaluation" / "details.json"),
        "registry": _read(root / "evaluation" / "registry.json"),
        "tune": _read(root / "metrics" / "tune.json"),
        "best": _read(root / "tuning" / "best_params.json"),
        "roc": pd.read_csv(root / "plots" / "evaluate" / "roc.csv"),
    }


def models_table(inputs: dict) -> pd.DataFrame:
    rows = []
    for name, m in inputs["train"].items():
        ev = inputs["evaluate"]["models"].get(name, {})
        rows.append({"model": name, "architecture": m.get("architecture"), "parameters": m.get("params_count"),
                     "epochs (best/run)": f"{m.get('best_epoch')}/{m.get('epochs_run')}",
                     "train s": m.get("train_seconds"), "samples/s": m.get("samples_per_second"),
                     "val acc": ev.get("val", {}).get("accuracy"), "val F1": ev.get("val", {}).get("macro_f1"),
                     "test acc": ev.get("test", {}).get("accuracy"), "test F1": ev.get("test", {}).get("macro_f1"),
                     "test AUC": ev.get("test", {}).get("roc_auc"),
                     "MLflow run": inputs["runs"].get(name, {}).get("run_id", "")[:12]})
    return pd.DataFrame(rows)


def figures(inputs: dict, folder: Path) -> dict[str, Path]:
    plt = _pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for name, h in inputs["history"].items():
        axes[0].plot(h["epoch"], h["val_loss"], marker=".", label=name)
        axes[1].plot(h["epoch"], h["val_accuracy"], marker=".", label=name)
    for ax, title in zip(axes, ("validation loss", "validation accuracy")):
        ax.set(title=title, xlabel="epoch")
    axes[1].legend(fontsize=7, ncol=2)
    out["curves"] = _save(fig, folder / "training_curves.png")

    models = inputs["evaluate"]["models"]
    names = sorted(models, key=lambda n: models[n]["test"]["accuracy"])
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(names) + 1))
    ax.barh(names, [models[n]["test"]["accuracy"] for n in names],
            color=["tab:orange" if n == inputs["evaluate"]["winner"] else "tab:blue" for n in names])
    low = min(models[n]["test"]["accuracy"] for n in names)
    ax.set(xlim=(max(0.0, low - 0.05), None), xlabel="test accuracy", title="Models and ensembles (winner in orange)")
    out["comparison"] = _save(fig, folder / "comparison.png")

    winner = inputs["details"][inputs["evaluate"]["winner"]]["test"]
    labels = list(winner["per_class"])
    fig, ax = plt.subplots(figsize=(1 + 0.5 * len(labels), 1 + 0.5 * len(labels)))
    ax.imshow(winner["confusion"], cmap="Blues")
    ax.set(xticks=range(len(labels)), yticks=range(len(labels)), xlabel="predicted", ylabel="actual",
           title="Confusion matrix (winner, test)")
    ax.set_xticklabels(labels, rotation=90, fontsize=7)
    ax.set_yticklabels(labels, fontsize=7)
    out["confusion"] = _save(fig, folder / "confusion_matrix.png")

    fig, ax = plt.subplots(figsize=(5, 5))
    for cls, curve in inputs["roc"].groupby("class", sort=False):
        ax.plot(curve["fpr"], curve["tpr"], label=str(cls))
    ax.plot([0, 1], [0, 1], "k--", linewidth=0.5)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (winner, test)")
    if inputs["roc"]["class"].nunique() <= 10:
        ax.legend(fontsize=7)
    out["roc"] = _save(fig, folder / "roc.png")
    return out


def _save(fig, path: Path) -> Path:
    fig.savefig(path, **PNG)
    _pyplot().close(fig)
    return path


def markdown(inputs: dict, figs: dict[str, Path], base: Path) -> str:
    data, spec, ev = inputs["data"], inputs["spec"], inputs["evaluate"]
    details, winner = inputs["details"], ev["winner"]
    members = [n for n in ev["models"] if n in inputs["train"]]
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
    lines += ["", f"Winner on validation {ev['selection_metric']}: **{winner}** (test accuracy "
              f"{ev['winner_test']['accuracy']:.4f}, macro-F1 {ev['winner_test']['macro_f1']:.4f}). "
              f"The raw-text model reproduces it exactly: {ev['end_to_end']['predictions_identical']}.", ""]
    if inputs["registry"]:
        r = inputs["registry"]
        lines += [f"Registry: `{r['name']}` version {r['version']} is `@{r['alias']}` ({r['reason']}).", ""]
    if inputs["tune"]:
        t, best = inputs["tune"], inputs["best"]
        lines += ["## Tuning", "", f"- study `{t['study']}`: best {t['metric']} {t['best_value']:.4f} "
                  f"(trial {t['best_trial']}); trials {t['trials']}; {t['epochs_spent']} epochs",
                  f"- winner: `{json.dumps(best.get('models', {}).get('tuned', {}))}`, train "
                  f"`{json.dumps(best.get('train', {}))}`", ""]
    lines += ["## Figures", ""]
    for title, key in (("Training curves", "curves"), ("Comparison", "comparison"),
                       ("Confusion matrix", "confusion"), ("ROC", "roc")):
        lines += [f"### {title}", "", f"![{title}]({figs[key].relative_to(base).as_posix()})", ""]
    return "\n".join(lines)


def html(markdown_text: str, base: Path) -> str:
    """Self-contained HTML: the figures inlined as data URIs."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(markdown_text)
    for png in sorted(base.rglob("*.png")):
        data = base64.b64encode(png.read_bytes()).decode()
        body = body.replace(f'src="{png.relative_to(base).as_posix()}"', f'src="data:image/png;base64,{data}"')
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}"
             "img{max-width:100%}")
    return f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>rnnops report</title>" \
           f"<style>{style}</style></head><body>\n{body}\n</body></html>\n"


def log_to_mlflow(folder: Path) -> None:
    import mlflow

    mlflow.log_artifacts(str(folder), "report")
