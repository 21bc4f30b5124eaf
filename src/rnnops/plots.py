"""Every matplotlib figure of the project: the ones logged to MLflow and the report's.
(DVC renders its own plots from the CSV tables.) PNGs carry no metadata and use one dpi, so the
same numbers give the same bytes."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

PNG = {"metadata": {"Software": None}, "dpi": 100, "bbox_inches": "tight"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    fig.savefig(path, **PNG)
    _pyplot().close(fig)
    return path


def length_histogram(table: pd.DataFrame, max_len: int, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    width = float(table["tokens"].diff().median()) if len(table) > 1 else 1.0
    ax.bar(table["tokens"], table["documents"], width=width, align="edge", color="#4c72b0")
    ax.axvline(max_len, color="#c44e52", linestyle="--", label=f"max_len = {max_len}")
    ax.set(xlabel="tokens per document (train, before truncation)", ylabel="documents",
           title="Length distribution")
    ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def class_balance(table: pd.DataFrame, path: Path) -> Path:
    plt = _pyplot()
    splits = [c for c in table.columns if c != "class"]
    fig, ax = plt.subplots(figsize=(7, max(3.0, 0.25 * len(table) + 1.5)))
    height = 0.8 / len(splits)
    for i, split in enumerate(splits):
        ax.barh([y + i * height for y in range(len(table))], table[split], height=height, label=split)
    ax.set_yticks([y + height for y in range(len(table))], table["class"])
    ax.set(xlabel="documents", title="Class balance per split")
    ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def training_curves(history: pd.DataFrame, path: Path, metrics=("loss", "accuracy")) -> Path:
    """Loss and a second metric (accuracy; MAE for forecasts) per epoch, train vs validation."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, metrics):
        ax.plot(history["epoch"], history[metric], marker="o", label="train")
        ax.plot(history["epoch"], history[f"val_{metric}"], marker="o", label="validation")
        ax.set(xlabel="epoch", ylabel=metric, title=metric.upper() if len(metric) <= 4 and metric != "loss"
               else metric.capitalize())
        ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def confusion_matrix(matrix, labels: list[str], path: Path) -> Path:
    plt = _pyplot()
    size = max(4.0, 0.35 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ticks = range(len(labels))
    ax.set_xticks(ticks, labels, rotation=90)
    ax.set_yticks(ticks, labels)
    if len(labels) <= 12:  # numbers stay readable only on small matrices
        for i in ticks:
            for j in ticks:
                ax.text(j, i, int(matrix[i][j]), ha="center", va="center", fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix (test)")
    fig.tight_layout()
    return _save(fig, path)


def roc_curves(table: pd.DataFrame, path: Path) -> Path:
    """ROC points (class, fpr, tpr): one curve per class (one for a binary task)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    for cls, curve in table.groupby("class", sort=False):
        ax.plot(curve["fpr"], curve["tpr"], label=str(cls))
    ax.plot([0, 1], [0, 1], "k--", linewidth=0.5)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (winner, test)")
    if table["class"].nunique() <= 10:
        ax.legend(fontsize=7)
    return _save(fig, path)


def validation_curves(histories: dict[str, pd.DataFrame], path: Path, second: str = "accuracy") -> Path:
    """Validation loss and a second metric (accuracy; MAE for forecasts) per epoch, one line per model."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for name, h in histories.items():
        axes[0].plot(h["epoch"], h["val_loss"], marker=".", label=name)
        axes[1].plot(h["epoch"], h[f"val_{second}"], marker=".", label=name)
    for ax, title in zip(axes, ("validation loss", f"validation {second}")):
        ax.set(title=title, xlabel="epoch")
    axes[1].legend(fontsize=7, ncol=2)
    return _save(fig, path)


def model_comparison(test_accuracy: dict[str, float], winner: str, path: Path, label: str = "test accuracy",
                     lower_is_better: bool = False) -> Path:
    """A test score of every model and ensemble (accuracy by default), best at the top, the winner
    highlighted."""
    plt = _pyplot()
    names = sorted(test_accuracy, key=test_accuracy.get, reverse=lower_is_better)
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(names) + 1))
    ax.barh(names, [test_accuracy[n] for n in names],
            color=["tab:orange" if n == winner else "tab:blue" for n in names])
    low = min(test_accuracy.values())
    ax.set(xlim=(max(0.0, low - 0.05), None), xlabel=label, title="Models and ensembles (winner in orange)")
    return _save(fig, path)


def study_figures(study, folder: Path) -> dict[str, str]:
    """Optuna's own matplotlib figures of a study (history, importances, parallel coordinates)
    as PNGs in `folder`; returns the ones it could not draw, with why."""
    import warnings

    import numpy as np
    from optuna.visualization import matplotlib as vis

    plt, skipped = _pyplot(), {}
    figures = {"optimization_history": vis.plot_optimization_history,
               "param_importances": vis.plot_param_importances,
               "parallel_coordinate": vis.plot_parallel_coordinate}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
        for name, draw in figures.items():
            try:
                ax = draw(study)
            except (ValueError, RuntimeError) as exc:  # e.g. importances need 2+ complete trials
                skipped[name] = str(exc)
                plt.close("all")
                continue
            figure = (ax.flat[0] if isinstance(ax, np.ndarray) else ax).get_figure()
            figure.set_size_inches(10, 6)
            _save(figure, folder / f"{name}.png")
    return skipped


# --- forecasting ------------------------------------------------------------------------------

SPLIT_COLOURS = {"train": "#4c72b0", "val": "#dd8452", "test": "#55a868"}


def series_by_split(table: pd.DataFrame, path: Path) -> Path:
    """The whole series (plots/data/series.csv: time, value, split), coloured by split."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.5))
    times = pd.to_datetime(table["time"])
    for split, colour in SPLIT_COLOURS.items():
        part = table["split"] == split
        ax.plot(times[part], table["value"][part], color=colour, linewidth=0.8, label=split)
    ax.set(xlabel="time", ylabel="value", title="Series by split (chronological; test is last)")
    ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def forecast_vs_actual(table: pd.DataFrame, path: Path) -> Path:
    """Test period: actual and each forecast column of plots/evaluate/forecast.csv (one step ahead)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.5))
    times = pd.to_datetime(table["time"])
    ax.plot(times, table["actual"], color="black", linewidth=1.2, label="actual")
    for column in table.columns.drop(["time", "actual"]):
        ax.plot(times, table[column], linewidth=0.9, label=column)
    ax.set(xlabel="time", ylabel="value", title="Test period: actual vs forecast (1 step ahead)")
    ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def error_per_step(table: pd.DataFrame, metric: str, path: Path) -> Path:
    """Test error per horizon step (plots/evaluate/per_step.csv: step, candidate, mae, mase, ...)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, rows in table.groupby("candidate", sort=False):
        ax.plot(rows["step"], rows[metric], marker="o", label=name)
    ax.set(xlabel="horizon step", ylabel=f"test {metric.upper()}", title=f"Test {metric.upper()} per horizon step")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return _save(fig, path)


def residual_histogram(residuals, path: Path, xlabel: str = "actual - forecast (all test steps)") -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist(residuals, bins=40, color="#4c72b0")
    ax.set(xlabel=xlabel, ylabel="count", title="Winner's test residuals")
    fig.tight_layout()
    return _save(fig, path)


def predicted_vs_actual(actual, predicted, target: str, path: Path) -> Path:
    """Regression: predicted against actual (the diagonal is perfect) and the residuals against
    the prediction (a pattern there is bias the model missed)."""
    import numpy as np

    plt = _pyplot()
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.scatter(actual, predicted, s=8, alpha=0.5)
    low, high = float(min(actual.min(), predicted.min())), float(max(actual.max(), predicted.max()))
    left.plot([low, high], [low, high], color="tab:orange", lw=1)
    left.set(xlabel=f"actual {target}", ylabel=f"predicted {target}", title="Predicted vs actual (test)")
    right.scatter(predicted, actual - predicted, s=8, alpha=0.5)
    right.axhline(0.0, color="tab:orange", lw=1)
    right.set(xlabel=f"predicted {target}", ylabel="actual - predicted", title="Residuals (test)")
    fig.tight_layout()
    return _save(fig, path)


def fold_scores(table: pd.DataFrame, metric: str, path: Path) -> Path:
    """K-fold: each model's validation score per fold (plots/evaluate/folds.csv: model, fold, ...)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, rows in table.groupby("model", sort=False):
        ax.plot(rows["fold"], rows[metric], marker="o", label=name)
    ax.set(xlabel="fold", ylabel=f"validation {metric.upper()}", title=f"Validation {metric.upper()} per fold")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return _save(fig, path)


def attention_map(weights, source_tokens: list[str], target_tokens: list[str], path: Path,
                  title: str = "Attention (rows: output tokens, columns: source tokens)") -> Path:
    """A source x target heatmap of attention weights (each row sums to 1 over the source): a
    model that learned to align shows a path through the source. Glyphs the font lacks (CJK
    without a CJK font installed) are drawn as boxes, without a warning per glyph."""
    import warnings

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.32 * len(source_tokens) + 1.5),
                                    max(3.0, 0.32 * len(target_tokens) + 1.2)))
    ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    shown = lambda tokens: [t if t.strip() else "␣" for t in tokens]  # noqa: E731 - a space is invisible
    ax.set_xticks(range(len(source_tokens)), shown(source_tokens), rotation=90)
    ax.set_yticks(range(len(target_tokens)), shown(target_tokens))
    ax.set(xlabel="source", ylabel="output", title=title)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.tight_layout()
        return _save(fig, path)
