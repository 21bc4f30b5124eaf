"""IMDB Large Movie Review Dataset (Maas et al. 2011): 25,000 train / 25,000 test, official split.

`data.path` may be the tarball, an extracted `aclImdb/` folder (or its parent), or a CSV with
columns split,label,text (label 1 = positive, as in Keras). With `data.path: null` the tarball
is downloaded once from its Stanford home into `data.cache_dir` and checked against a pinned hash.
"""
from __future__ import annotations

import hashlib
import re
import tarfile
from pathlib import Path

from rnnops.errors import DataError
from rnnops.data.sources import RawDataset
from rnnops.data.sources.download import fetch
from rnnops.data.files import decode, existing, parse_table, require_columns
from rnnops.project import sha256_file
from rnnops.data.sources.labels import normalize_labels, to_frame

URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
LABELS = ["neg", "pos"]  # class 0 = negative, 1 = positive
# train/unsup (unlabelled) and the .feat files are not part of the classification task.
MEMBER = re.compile(r"(?:^|/)(train|test)/(pos|neg)/(\d+)_\d+\.txt$")


def load(params) -> RawDataset:
    if params.path is None:
        path = fetch(URL, params.cache_dir, "aclImdb_v1.tar.gz", SHA256)
    else:
        path = existing(params.path, "the IMDB dataset (aclImdb_v1.tar.gz, aclImdb/ or a CSV)")
    if path.is_dir():
        rows, digest = _from_folder(path)
    elif path.name.endswith((".tar.gz", ".tgz", ".tar")):
        rows, digest = _from_tarball(path)
    else:
        return _from_csv(path)
    if not rows:
        raise DataError(f"{path}: no reviews found under train/ or test/ (pos|neg)/*.txt. "
                        "Fix: point data.path at aclImdb_v1.tar.gz or the aclImdb/ folder.")
    rows.sort(key=lambda r: (r[0] != "train", r[1], r[2]))  # deterministic order
    frame = to_frame([r[3] for r in rows], [r[1] for r in rows], [r[0] for r in rows])
    return RawDataset("imdb", frame, LABELS, digest, str(path))


def _from_csv(path: Path) -> RawDataset:
    table = parse_table(path, "auto", "utf-8")
    require_columns(table, {"split": "split", "label": "label", "text": "text"}, path)
    labels, names = normalize_labels(table["label"])
    mapping = {"0": "neg", "1": "pos", "neg": "neg", "pos": "pos"}
    if not set(names) <= set(mapping):
        raise DataError(f"{path}: labels {names} are not IMDB's 0/1 (or neg/pos). "
                        "Fix: use data.source: csv for other datasets.")
    frame = to_frame(table["text"], labels.map(mapping.get), table["split"].str.strip().str.lower())
    return RawDataset("imdb", frame, LABELS, sha256_file(path), str(path))


def _from_tarball(path: Path):
    rows = []
    try:
        with tarfile.open(path, "r|*") as archive:
            for member in archive:  # streaming: one pass over the gzip
                match = MEMBER.search(member.name)
                if match and member.isfile():
                    data = archive.extractfile(member).read()
                    text = decode(data, "utf-8", f"{path}:{member.name}")
                    rows.append((match[1], match[2], int(match[3]), text))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"{path}: truncated or corrupt archive ({exc}). "
                        "Fix: download it again (delete the cached copy) or set data.path.") from None
    return rows, sha256_file(path)


def _from_folder(path: Path):
    root = path / "aclImdb" if (path / "aclImdb").is_dir() else path
    digest = hashlib.sha256()
    rows = []
    for file in sorted(root.glob("t*/*/*.txt")):
        match = MEMBER.search(file.relative_to(root).as_posix())
        if match:
            data = file.read_bytes()
            digest.update(file.relative_to(root).as_posix().encode() + b"\0" + data)
            rows.append((match[1], match[2], int(match[3]), decode(data, "utf-8", str(file))))
    return rows, digest.hexdigest()
