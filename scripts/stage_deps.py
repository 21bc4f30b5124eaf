"""The code deps of each DVC stage: the import closure of its pipeline/<stage>.py for the stage's
task, computed from the code (AST; nothing is imported or run but the task registry).

    python scripts/stage_deps.py           # print each stage's closure and what dvc.yaml lacks
    python scripts/stage_deps.py --write   # rewrite the code deps in every dvc.yaml to match

A module counts when a stage's `pipeline/<stage>.py` imports it, directly or through modules it
imports, at module level or inside a function; package `__init__.py` files on the way count
too, and so does a module named by a string constant (`"rnnops.tracking.serving"`, the pyfunc
MLflow runs as code). The task registry (rnnops/tasks/__init__.py) names every task's modules; a
stage depends only on its own task's parts that its script uses (STAGE_PARTS), so editing one
task's code never makes another task's stages stale.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
# dvc.yaml stage -> the pipeline script it runs
STAGE_SCRIPTS = {"prepare": "prepare", "train": "train", "tune": "tune", "train_tuned": "train",
                 "evaluate": "evaluate", "report": "report"}
# stage -> the task parts (rnnops.tasks) its script calls
STAGE_PARTS = {"prepare": ("prepare",), "train": ("prepare", "train"), "tune": ("prepare", "train"),
               "train_tuned": ("prepare", "train"), "evaluate": ("prepare", "evaluate"),
               "report": ("report",)}
# each pipeline file -> its task
PIPELINES = {"dvc.yaml": "text_classification", "forecast/dvc.yaml": "forecast",
             "regression/dvc.yaml": "regression", "generation/dvc.yaml": "generation",
             "seq2seq/dvc.yaml": "seq2seq"}
REGISTRY = SRC / "rnnops" / "tasks" / "__init__.py"


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
    """rnnops modules `path` imports (anywhere in the file) or names as a string constant (not
    the task registry's names: those are per task, see task_modules)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "rnnops"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "rnnops":
            found.add(node.module)
            # `from rnnops.data import prepared`: a submodule, not a name
            found |= {f"{node.module}.{a.name}" for a in node.names
                      if module_file(f"{node.module}.{a.name}") is not None}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and path != REGISTRY \
                and node.value.startswith("rnnops.") and module_file(node.value) is not None:
            found.add(node.value)
    return found


def task_modules(task: str, parts: tuple[str, ...]) -> list[str]:
    sys.path.insert(0, str(SRC))
    from rnnops.tasks import TASKS  # stdlib only: reads the registry, imports no part

    definition = TASKS[task]
    modules = [definition.modules[p] for p in parts]
    return modules + [definition.params.partition(":")[0]]


def closure(entry: Path, task: str = "text_classification", parts: tuple[str, ...] = ()) -> set[str]:
    """Repo-relative paths of `entry`, the task's `parts` modules and every rnnops file they reach."""
    seen: set[Path] = set()
    todo = [entry] + [f for name in task_modules(task, parts) for f in _with_packages(name)]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_modules(path):
            todo += [f for f in _with_packages(name) if f not in seen]
    return {p.relative_to(REPO).as_posix() for p in seen}


def stage_closure(stage: str, task: str) -> set[str]:
    return closure(REPO / "pipeline" / f"{STAGE_SCRIPTS[stage]}.py", task, STAGE_PARTS[stage])


def is_code(dep: str) -> bool:
    return dep.lstrip("./").startswith(("pipeline/", "src/"))


def rewrite(text: str, pipeline: str = "dvc.yaml") -> str:
    """A dvc.yaml with each stage's code deps replaced by its closure (relative to the file's
    folder), listed after its other deps (every other line untouched)."""
    task = PIPELINES[pipeline]
    prefix = "../" * pipeline.count("/")
    out: list[str] = []
    stage, deps_pad = None, None
    for line in text.splitlines(keepends=True):
        stripped = line.split("#")[0].strip()
        indent = len(line) - len(line.lstrip())
        if deps_pad is not None and not (stripped.startswith("- ") and indent == len(deps_pad)):
            out += [f"{deps_pad}- {prefix}{p}\n" for p in sorted(stage_closure(stage, task))]
            deps_pad = None   # end of a deps list
        if indent == 2 and stripped.endswith(":"):
            stage = stripped[:-1]
        if stripped == "deps:" and stage in STAGE_SCRIPTS:
            deps_pad = " " * (indent + 2)
        elif deps_pad is not None and is_code(stripped[2:].strip()):
            continue
        out.append(line)
    return "".join(out)


if __name__ == "__main__":
    for pipeline, task in PIPELINES.items():
        text = (REPO / pipeline).read_text()
        new = rewrite(text, pipeline)
        if "--write" in sys.argv:
            (REPO / pipeline).write_text(new)
        for stage in STAGE_SCRIPTS:
            print(f"{pipeline} {stage}: {len(stage_closure(stage, task))} files")
        print(f"{pipeline} is up to date" if new == text else
              (f"{pipeline} rewritten" if "--write" in sys.argv else f"{pipeline} differs: run with --write"))
