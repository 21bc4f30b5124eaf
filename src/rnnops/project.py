"""Small facts about the project every layer may ask: where it lives, which commit it is at, and
two rules spelled once (how params nest into MLflow names, which direction a metric improves)."""
from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any


def project_root() -> Path:
    """The DVC project: DVC_ROOT (set by DVC for stage commands, pointing at the original repo
    even for `dvc exp run --temp`), else the nearest folder above cwd that holds `.dvc/`."""
    if os.environ.get("DVC_ROOT"):
        return Path(os.environ["DVC_ROOT"]).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / ".dvc").is_dir():
            return folder
    return here


def git_commit(cwd: Path) -> str:
    """HEAD's commit in `cwd`, or "unknown" outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'data': {'max_len': 64}} -> {'data.max_len': 64} (MLflow params and metrics)."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def higher_is_better(metric: str) -> bool:
    """Accuracy, F1 and AUC grow with quality; losses and errors shrink ("val_loss", "val_mae",
    "rmse", ...)."""
    name = metric.removeprefix("val_")
    return not (name.endswith("loss") or name in ("mae", "mse", "rmse", "mase", "smape", "mae_scaled"))


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks (datasets and models can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
