"""Recipes: the reference notes' experiments, each a small file of params overrides in recipes/.

A recipe names the pipeline it runs (a task's dvc.yaml and params file), the stages whose
metrics are its result, the published figure and the metric key that compares with it, and its
params as dotted keys. `rnnops recipe run NAME` runs it as a DVC experiment in a temporary
copy (`dvc exp run --temp -S ...`): the workspace's params.yaml is never touched, the
experiment lands in `dvc exp show`, each stage's run in MLflow. The figure and the wall time go
to recipes/results/NAME.json, which `rnnops recipe list` and the README table read.

Overrides follow DVC's (Hydra's) `-S` grammar: a key of the params file is set (a mapping is
merged into the block it replaces), a key the file lacks is added (`+key=value`). The params
with every override applied are validated first, so a bad recipe stops before DVC starts.
"""
from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from rnnops.errors import ParamsError, RnnopsError

RECIPES = Path("recipes")
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
KEYS = {"pipeline", "params_file", "stages", "figure", "published", "notes", "data_file", "params", "variant"}


@dataclass(frozen=True)
class Recipe:
    name: str
    pipeline: str            # dvc.yaml of the task (dvc.yaml, regression/dvc.yaml, ...)
    params_file: str         # its params file
    stages: tuple[str, ...]  # the stages run (targets of dvc exp run), each with a metrics file
    figure: str              # dotted key in a stage's metrics file: test.accuracy, folds.mae.mean
    published: float | None  # the notes' figure; None where they report none
    notes: str               # where the figure comes from, and what differs here
    data_file: str | None    # the dataset's file name in a local folder (--data-dir), if any
    params: dict             # dotted params keys -> values
    variant: dict            # more overrides on top: the same experiment with rnnops' own settings

    def metrics_path(self, stage: str) -> str:
        folder = str(Path(self.pipeline).parent)
        name = stage.split("@", 1)[1] if "@" in stage else stage
        path = f"metrics/train/{name}.json"
        return path if folder == "." else f"{folder}/{path}"


def load(name: str, root: Path = Path("."), check_paths: bool = True) -> Recipe:
    """recipes/<name>.yaml, checked: known keys, stages listed, and (check_paths) a pipeline and
    params file that exist here."""
    path = root / RECIPES / f"{name}.yaml"
    if not NAME.match(name) or not path.is_file():
        raise ParamsError(f"{path}: no such recipe (recipes: {', '.join(names(root)) or 'none'}). "
                          "Fix: `rnnops recipe list` shows them.")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = sorted(set(raw) - KEYS) if isinstance(raw, dict) else ["(not a mapping)"]
    if unknown:
        raise ParamsError(f"{path}: unknown key(s) {unknown}. Fix: use only {sorted(KEYS)}.")
    missing = sorted(k for k in ("pipeline", "params_file", "stages", "figure", "params") if k not in raw)
    if missing:
        raise ParamsError(f"{path}: missing key(s) {missing}. Fix: see recipes/imdb-lstm.yaml.")
    for key in ("pipeline", "params_file") if check_paths else ():
        if not (root / raw[key]).is_file():
            raise ParamsError(f"{path}: {key} {raw[key]} does not exist. Fix: a path from the project root.")
    return Recipe(name, raw["pipeline"], raw["params_file"], tuple(raw["stages"]), raw["figure"],
                  raw.get("published"), raw.get("notes", ""), raw.get("data_file"), dict(raw["params"]),
                  dict(raw.get("variant") or {}))


def names(root: Path = Path(".")) -> list[str]:
    return sorted(p.stem for p in (root / RECIPES).glob("*.yaml"))


def overrides(recipe: Recipe, root: Path = Path("."), data_dir: str | None = None,
              variant: bool = False) -> list[str]:
    """The `-S` values for dvc exp run, after validating the params they produce. With
    `data_dir`, data.path is that folder's copy of the recipe's data_file (absolute, since the
    experiment runs in a temporary copy); `variant` adds the recipe's variant overrides."""
    from rnnops.params.load import check_overridden
    from rnnops.params.overrides import dvc_set_args

    if variant and not recipe.variant:
        raise ParamsError(f"recipes/{recipe.name}.yaml has no variant. Fix: run it without --variant.")
    settings = {**recipe.params, **(recipe.variant if variant else {})}
    if data_dir and recipe.data_file:
        local = (root / data_dir / recipe.data_file).resolve()
        if not local.exists():
            raise ParamsError(f"{local}: not found. Fix: --data-dir must hold {recipe.data_file}.")
        settings["data.path"] = str(local)
    params_path = root / recipe.params_file
    raw = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    prefix = "" if recipe.params_file == "params.yaml" else f"{recipe.params_file}:"
    sets = dvc_set_args(settings, raw, f"recipes/{recipe.name}.yaml", params_path, add_keys=True)
    check_overridden(raw, f"recipes/{recipe.name}.yaml", params_path)
    return [prefix + line for line in sets]


def figure_of(metrics: dict, key: str) -> float | None:
    node = metrics
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return float(node) if isinstance(node, (int, float)) else None


def run(recipe: Recipe, root: Path = Path("."), data_dir: str | None = None, extra: list[str] = (),
        variant: bool = False) -> dict:
    """Run the recipe as a temporary DVC experiment; its figures and wall time as a dict, also
    written to recipes/results/<name>.json (<name>.variant.json; temp file, then rename)."""
    from rnnops.atomic import write_text

    sets = overrides(recipe, root, data_dir, variant) + list(extra)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    exp = f"recipe-{recipe.name}{'-variant' if variant else ''}-{stamp}"
    targets = [f"{recipe.pipeline}:{s}" if recipe.pipeline != "dvc.yaml" else s for s in recipe.stages]
    command = ["dvc", "exp", "run", "--temp", "-n", exp, *[a for s in sets for a in ("-S", s)], *targets]
    print("recipe:", " ".join(command), flush=True)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=root)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise RnnopsError(f"recipe {recipe.name}: `dvc exp run` failed (exit {done.returncode}); its output "
                          "is above. Nothing was written to recipes/results.")
    ref = _exp_ref(root, exp)
    figures = {}
    for stage in recipe.stages:
        shown = subprocess.run(["git", "show", f"{ref}:{recipe.metrics_path(stage)}"], cwd=root,
                               capture_output=True, text=True)
        figures[stage] = figure_of(json.loads(shown.stdout), recipe.figure) if not shown.returncode else None
    result = {"recipe": recipe.name, "experiment": exp, "figure": recipe.figure, "published": recipe.published,
              "rnnops": figures, "seconds": round(seconds, 1), "overrides": sets}
    write_text(result_path(recipe.name, root, variant), json.dumps(result, indent=2) + "\n")
    return result


def result_path(name: str, root: Path = Path("."), variant: bool = False) -> Path:
    return root / RECIPES / "results" / f"{name}{'.variant' if variant else ''}.json"


def _exp_ref(root: Path, exp: str) -> str:
    refs = subprocess.run(["git", "for-each-ref", "--format=%(refname)", "refs/exps/"], cwd=root,
                          capture_output=True, text=True, check=True).stdout.split()
    found = [r for r in refs if r.endswith(f"/{exp}")]
    if not found:
        raise RnnopsError(f"recipe: experiment {exp} left no ref under refs/exps. Fix: `dvc exp show`.")
    return found[0]


def table(root: Path = Path(".")) -> list[dict]:
    """One row per recipe: its published figure and the last result (recipes/results)."""
    rows = []
    for name in names(root):
        recipe = load(name, root, check_paths=False)  # list what a checkout lacks the task of, too
        result, variant = (json.loads(p.read_text()) if p.is_file() else {}
                           for p in (result_path(name, root), result_path(name, root, True)))
        rows.append({"recipe": name, "figure": recipe.figure, "published": recipe.published,
                     "rnnops": result.get("rnnops", {}), "seconds": result.get("seconds"),
                     "variant": variant.get("rnnops", {}), "variant_seconds": variant.get("seconds"),
                     "notes": recipe.notes})
    return rows
