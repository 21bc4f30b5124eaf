"""Reading dataset files: gzip, strict decoding with positions, tabular parsing."""
from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import pandas as pd

from rnnops.errors import DataError
from rnnops.project import project_root


def existing(path: str | Path, what: str, builtin: bool = True) -> Path:
    """`path` resolved, or a DataError naming the key to fix. A relative path is relative to the
    project root, also when `dvc exp run --temp` runs the stage in a temporary copy. `builtin`:
    the source has a built-in corpus or a download for `data.path: null` (csv has neither)."""

    resolved = Path(path).expanduser()
    if not resolved.is_absolute():
        resolved = project_root() / resolved
    if not resolved.exists():
        if not builtin:
            raise DataError(f"data.path: {resolved} does not exist. Fix: point data.path at "
                            f"{what} (an absolute path, or one relative to the project root).")
        raise DataError(f"data.path: {resolved} does not exist. Fix: point data.path at your local "
                        f"copy of {what}, or set it to null to use the built-in/download.")
    return resolved


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it is gzip; a truncated gzip is a clear error."""
    data = path.read_bytes()
    if not data:
        raise DataError(f"{path}: the file is empty (0 bytes). Fix: copy or export it again.")
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise DataError(f"{path}: truncated or corrupt gzip ({exc}). "
                            "Fix: download or copy the file again.") from None
    return data


def decode(data: bytes, encoding: str, origin: str) -> str:
    """Strict decode; undecodable bytes are reported with their line and byte offset."""
    codec = "utf-8-sig" if encoding.replace("_", "-").lower() in ("utf-8", "utf8") else encoding
    try:
        return data.decode(codec)
    except LookupError:
        raise DataError(f"{origin}: unknown encoding '{encoding}'. Fix: set data.csv.encoding "
                        "to a Python codec name such as utf-8, latin-1 or cp1252.") from None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start:exc.end].hex(" ")
        raise DataError(f"{origin}: line {line}, byte {exc.start}: bytes {bad} are not valid "
                        f"{encoding}. Fix: re-save the file as {encoding}, or set "
                        "data.csv.encoding to the file's real encoding (e.g. latin-1).") from None


def parse_table(path: Path, fmt: str, encoding: str) -> pd.DataFrame:
    """A CSV/TSV (gzip ok) or Parquet file as a DataFrame of strings."""
    if fmt == "auto":
        name = path.name.lower().removesuffix(".gz")
        fmt = "parquet" if name.endswith(".parquet") else "tsv" if name.endswith((".tsv", ".tab")) else "csv"
    if fmt == "parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types for a bad file
            raise DataError(f"{path}: not a readable Parquet file ({exc}). Fix: export it again.") from None
        return frame.astype(object).where(frame.notna(), None)
    text = decode(read_bytes(path), encoding, str(path))
    if not text.strip():
        raise DataError(f"{path}: the file has no content. Fix: copy or export it again.")
    try:
        return pd.read_csv(io.StringIO(text), sep="\t" if fmt == "tsv" else ",", dtype=str,
                           keep_default_na=False, na_filter=False)
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: cannot parse as {fmt.upper()} ({exc}). Fix: check quoting "
                        "on that line (an unbalanced \" makes the rest of the file one field).") from None


def require_columns(frame: pd.DataFrame, columns: dict[str, str], path: Path) -> None:
    """Every configured column must exist; name the params key that sets it."""
    missing = [f"{key}='{col}'" for key, col in columns.items() if col not in frame.columns]
    if missing:
        raise DataError(f"{path}: column(s) not found: {', '.join(missing)}; the file has "
                        f"{list(map(str, frame.columns))}. Fix: set those keys in params.yaml to "
                        "the file's column names.")
    if frame.empty:
        raise DataError(f"{path}: the file has a header but no rows. Fix: export the data again.")
