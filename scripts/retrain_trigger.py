"""Would a push start .github/workflows/retrain.yml? The rule as GitHub applies it, read from the
workflow itself (so it is spelled once): the push's branch must be in `on.push.branches`, one
changed file must match `on.push.paths` (GitHub's globs: `*` stays inside a folder, `**` crosses
folders), and the job's `if:` skips commits whose message carries the bot's marker.

    python scripts/retrain_trigger.py --branch main --message "..." dvc.lock metrics/evaluate.json
prints `retrain` or `skip: <why>` (exit 0 either way). tests/code/test_retrain_trigger.py keeps the
rule from looping: the bot's merged pull request (dvc.lock, metrics/, plots/) must not retrain.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import yaml

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "retrain.yml"
MARKER = "[rnnops-retrain]"  # in the bot's commit messages and pull request titles


def glob_regex(pattern: str) -> re.Pattern:
    """GitHub's filter pattern syntax: ** any characters, * any but '/', ? one character."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def push_filter(workflow: Path = WORKFLOW) -> dict:
    spec = yaml.safe_load(workflow.read_text())
    on = spec.get("on", spec.get(True))  # YAML 1.1 reads a bare `on:` key as True
    job_if = next(iter(spec["jobs"].values())).get("if", "")
    return {"branches": on["push"]["branches"], "paths": on["push"]["paths"], "if": job_if}


def decide(branch: str, changed: list[str], message: str, workflow: Path = WORKFLOW) -> str:
    rule = push_filter(workflow)
    if not any(glob_regex(b).match(branch) for b in rule["branches"]):
        return f"skip: branch {branch} is not in on.push.branches {rule['branches']}"
    matched = [f for f in changed if any(glob_regex(p).match(f) for p in rule["paths"])]
    if not matched:
        return f"skip: no changed file matches on.push.paths {rule['paths']}"
    if MARKER in rule["if"] and MARKER in message:
        return f"skip: the commit message carries {MARKER} (the bot's own commit)"
    return "retrain"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("changed", nargs="+", help="the paths the push changed")
    parser.add_argument("--branch", default="main")
    parser.add_argument("--message", default="", help="the head commit's message")
    args = parser.parse_args()
    print(decide(args.branch, args.changed, args.message))


if __name__ == "__main__":
    main()
