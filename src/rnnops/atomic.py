"""All-or-nothing outputs: write to temporary paths beside the targets, rename at the end.

A stage that fails (or is killed) before `staged_outputs` exits leaves every earlier output as it
was; the renames at the end happen only after all outputs were written. A kill *during* the
renames can leave two kinds of leftovers beside a target, and the next `staged_outputs` for that
target deals with both before anything else:
- `.<name>.<random>.tmp/`: an uncommitted temporary: removed;
- `.<name>.old-<pid>`: the previous folder, moved aside for the swap: put back if the target is
  missing (the kill fell between the two renames), else removed.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from rnnops import faults


@contextlib.contextmanager
def staged_outputs(*targets: str | Path) -> Iterator[list[Path]]:
    """Yield one temporary path per target (file or folder); commit them all on success."""
    finals = [Path(t) for t in targets]
    temps = []
    for final in finals:
        final.parent.mkdir(parents=True, exist_ok=True)
        recover(final)
        temps.append(Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)))
    # Each temp is an empty folder; a file target is written *inside* it and moved out on commit.
    staged = [t / final.name for t, final in zip(temps, finals)]
    try:
        yield staged
        for path, final in zip(staged, finals):
            if not path.exists():
                raise FileNotFoundError(f"stage did not write {final}")
        for path, final in zip(staged, finals):
            _replace(path, final)
    finally:
        for temp in temps:
            shutil.rmtree(temp, ignore_errors=True)


def recover(final: Path) -> None:
    """Clean up after a commit that was killed (SIGKILL skips every `finally`): see the module doc."""
    for stale in final.parent.glob(f".{final.name}.*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    for old in sorted(final.parent.glob(f".{final.name}.old-*")):
        if not final.exists():
            os.replace(old, final)  # the earlier result, intact
        else:
            shutil.rmtree(old, ignore_errors=True)


def _replace(new: Path, final: Path) -> None:
    if new.is_dir() and final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)      # a folder cannot be renamed over a non-empty folder
        faults.point("atomic.between_renames")
        os.replace(new, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        if final.is_dir():
            shutil.rmtree(final)
        os.replace(new, final)


def write_text(path: str | Path, text: str) -> None:
    """Atomically replace one text file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
