"""Matplotlib figures logged to MLflow (DVC renders its own plots from the CSV tables)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


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
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


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
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def training_curves(history: pd.DataFrame, path: Path) -> Path:
    """Loss and accuracy per epoch, train vs validation."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        ax.plot(history["epoch"], history[metric], marker="o", label="train")
        ax.plot(history["epoch"], history[f"val_{metric}"], marker="o", label="validation")
        ax.set(xlabel="epoch", ylabel=metric, title=metric.capitalize())
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


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
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
