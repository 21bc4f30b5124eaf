"""Errors a user can fix. Each carries an exit code and a message naming the file/key and the fix."""
from __future__ import annotations

import sys
from typing import Callable


class RnnopsError(Exception):
    """A problem with the user's input, reported as one clear message (no traceback)."""

    exit_code = 1


class ParamsError(RnnopsError):
    """params.yaml is missing, malformed or fails validation."""

    exit_code = 2


class DataError(RnnopsError):
    """A dataset file is missing, unreadable or fails validation."""


def run_main(main: Callable[[], None]) -> None:
    """Run a stage's main(): user errors become one message on stderr and a non-zero exit."""
    try:
        main()
    except RnnopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except ModuleNotFoundError as exc:
        if exc.name != "tensorflow":
            raise
        print("error: TensorFlow is not installed. Fix: install rnnops with one of its TensorFlow extras, "
              "pip install -e '.[cpu]' (or '.[gpu]' on a CUDA machine); `make setup` does it.", file=sys.stderr)
        sys.exit(1)
