"""Saving and loading Keras model files: `.keras` only, written atomically, read with safe_mode."""
from __future__ import annotations

import os
from pathlib import Path


def save_keras(model, path: Path) -> None:
    """Save to a temporary .keras file beside `path`, then rename: never a half-written model."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load_keras_model(path: str | Path):
    """Load a model we wrote: `.keras` files only, with safe_mode (no arbitrary code)."""
    import keras

    import rnnops.models.layers  # noqa: F401  (registers the custom layers)
    import rnnops.models.seq2seq_layers  # noqa: F401  (and the encoder-decoders')
    import rnnops.models.text_model  # noqa: F401

    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path}: only .keras model files are loaded (safe_mode); got '{path.suffix}'")
    return keras.saving.load_model(path, safe_mode=True)
