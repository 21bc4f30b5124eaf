"""The code deps of each DVC stage: the import closure of its pipeline/<stage>.py, computed from
the code (AST; nothing is imported or run).

    python scripts/stage_deps.py           # print each stage's closure and what dvc.yaml lacks
    python scripts/stage_deps.py --write   # rewrite the code deps in dvc.yaml to match

A module counts when a stage's `pipeline/<stage>.py` imports it, directly or through modules it
imports, at module level or inside a function; package `__init__.py` files on the way count
too, and so does a module named by a string constant (`"rnnops.tracking.serving"`, the pyfunc
MLflow runs as code).
"""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# dvc.yaml stage -> the pipeline script it runs
STAGE_SCRIPTS = {"prepare": "prepare", "train": "train", "tune": "tune", "train_tuned": "train",
                 "evaluate": "evaluate", "report": "report"}
SRC = REPO / "src"


def module_file(name: str) -> Path | None:
    base = SRC.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _with_packages(name: str) -> list[Path]:
    """The module's file and the __init__.py of every package above it."""
    parts = name.split(".")
    files = [module_file(".".join(parts[:i])) for i in range(1, len(parts) + 1)]
    return [f for f in files if f is not None]


def imported_modules(path: Path) -> set[str]:
    """rnnops modules `path` imports (anywhere in the file) or names as a string constant."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "rnnops"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "rnnops":
            found.add(node.module)
            # `from rnnops.data import prepared`: a submodule, not a name
            found |= {f"{node.module}.{a.name}" for a in node.names
                      if module_file(f"{node.module}.{a.name}") is not None}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and node.value.startswith("rnnops.") and module_file(node.value) is not None:
            found.add(node.value)
    return found


def closure(entry: Path) -> set[str]:
    """Repo-relative paths of `entry` and every rnnops file it reaches."""
    seen: set[Path] = set()
    todo = [entry]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_modules(path):
            todo += [f for f in _with_packages(name) if f not in seen]
    return {p.relative_to(REPO).as_posix() for p in seen}


def is_code(dep: str) -> bool:
    return dep.startswith(("pipeline/", "src/"))


def rewrite(text: str) -> str:
    """dvc.yaml with each stage's code deps replaced by its closure, listed after its other deps
    (every other line untouched)."""
    out: list[str] = []
    stage, deps_pad = None, None
    for line in text.splitlines(keepends=True):
        stripped = line.split("#")[0].strip()
        indent = len(line) - len(line.lstrip())
        if deps_pad is not None and not (stripped.startswith("- ") and indent == len(deps_pad)):
            script = REPO / "pipeline" / f"{STAGE_SCRIPTS[stage]}.py"   # end of a deps list
            out += [f"{deps_pad}- {p}\n" for p in sorted(closure(script))]
            deps_pad = None
        if indent == 2 and stripped.endswith(":"):
            stage = stripped[:-1]
        if stripped == "deps:" and stage in STAGE_SCRIPTS:
            deps_pad = " " * (indent + 2)
        elif deps_pad is not None and is_code(stripped[2:].strip()):
            continue
        out.append(line)
    return "".join(out)


if __name__ == "__main__":
    import sys

    text = (REPO / "dvc.yaml").read_text()
    new = rewrite(text)
    if "--write" in sys.argv:
        (REPO / "dvc.yaml").write_text(new)
    for stage, script in STAGE_SCRIPTS.items():
        print(f"{stage}: {len(closure(REPO / 'pipeline' / f'{script}.py'))} files")
    print("dvc.yaml is up to date" if new == text else
          ("dvc.yaml rewritten" if "--write" in sys.argv else "dvc.yaml differs: run with --write"))
