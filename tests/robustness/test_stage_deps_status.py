"""Editing one module makes exactly the stages that import it stale, as real `dvc status` sees it
(the dvc.yaml side of tests/code/test_stage_deps.py)."""
import json
import shutil

import pytest

from scripts.stage_deps import stage_closure
from tests.conftest import REPO, run

pytestmark = pytest.mark.slow
# one module per layer, from the one only prepare reads to the one every stage reads
MODULES = ["src/rnnops/data/splits.py", "src/rnnops/training/fit.py", "src/rnnops/scoring/ensemble.py",
           "src/rnnops/tracking/serving.py", "src/rnnops/stages/report.py", "src/rnnops/plots.py",
           "src/rnnops/project.py"]


def importers(module: str, stage_names: list[str]) -> set[str]:
    """The stages of a project whose pipeline script reaches `module`."""
    out = set()
    for stage in stage_names:
        base = stage.split("@")[0]
        if module in stage_closure(base, "text_classification"):
            out.add(stage)
    return out


@pytest.fixture(scope="module")
def copy(two_runs, tmp_path_factory):
    dest = tmp_path_factory.mktemp("deps") / "project"
    shutil.copytree(two_runs[1], dest, symlinks=True)
    status = run(["dvc", "status", "--json"], dest)
    assert status.returncode == 0 and json.loads(status.stdout) == {}, status.stdout
    return dest


@pytest.mark.parametrize("module", MODULES)
def test_editing_a_module_makes_exactly_its_importers_stale(copy, module):
    path = copy / module
    original = path.read_bytes()
    path.write_bytes(original + b"\n# an edit\n")
    try:
        status = run(["dvc", "status", "--json"], copy)
    finally:
        path.write_bytes(original)
    assert status.returncode == 0, status.stderr[-2000:]
    stale = {stage for stage, changes in json.loads(status.stdout).items()
             if any(module in c.get("changed deps", {}) for c in changes)}
    stages = ["prepare", "train@lstm", "train@multihot_dense", "tune", "train_tuned", "evaluate", "report"]
    assert stale == importers(module, stages)
    assert stale  # every module here is some stage's code
