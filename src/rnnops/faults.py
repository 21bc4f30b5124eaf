"""Fault injection for the robustness tests: `RNNOPS_FAULT=<point>` makes that point fail.

`RNNOPS_FAULT=<point>` raises `InjectedFault` there; `RNNOPS_FAULT=<point>:kill` sends the
process SIGKILL there (what a power cut or the OOM killer does). Unset, `point()` does nothing.
"""
from __future__ import annotations

import os
import signal


class InjectedFault(RuntimeError):
    """The failure a test asked for."""


def point(name: str) -> None:
    wanted, _, how = os.environ.get("RNNOPS_FAULT", "").partition(":")
    if wanted != name:
        return
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise InjectedFault(f"fault injected at {name} (RNNOPS_FAULT)")
