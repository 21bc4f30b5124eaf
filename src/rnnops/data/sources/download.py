"""Download a file once into a cache directory, verified against a pinned sha256."""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from rnnops.errors import DataError
from rnnops.project import sha256_file


def fetch(url: str, cache_dir: str | Path, filename: str, sha256: str | None,
          timeout: float = 60.0) -> Path:
    """Path of the cached file, downloading it first when missing or corrupt.

    The download goes to a temporary file in the cache directory and is renamed into place only
    after its hash matches, so an interrupted download never looks like a finished one.
    """
    cache = Path(cache_dir).expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / filename
    if target.is_file() and (sha256 is None or sha256_file(target) == sha256):
        return target
    fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=cache)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0)
            with _progress(total, filename) as bar:
                while block := response.read(1 << 20):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
        if sha256 is not None and digest.hexdigest() != sha256:
            raise DataError(f"{url}: downloaded file has sha256 {digest.hexdigest()}, expected "
                            f"{sha256}. Fix: retry; if it persists, download it by hand and "
                            "set data.path to the file.")
        os.replace(tmp, target)
        return target
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise DataError(f"could not download {url} ({exc}). Fix: check the network, or download "
                        f"it elsewhere and set data.path to the local copy.") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _progress(total: int, name: str):
    from tqdm import tqdm

    # A bar in a terminal; silent in logs (CI, `dvc repro` piped to a file).
    return tqdm(total=total or None, unit="B", unit_scale=True, desc=name,
                disable=not sys.stderr.isatty())
