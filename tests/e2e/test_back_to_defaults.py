"""The README's way back from an experiment to the committed defaults: `git checkout params.yaml &&
dvc repro`. DVC finds each stage's earlier run in its run cache and restores its outputs without
running it; `git checkout params.yaml dvc.lock && dvc checkout` instead needs the committed
dvc.lock's outputs in the local cache, which a fresh clone does not have.

Kept small for CI: the small profile's `prepare` and `train@multihot_dense` (the same holds for
the whole pipeline, `dvc repro` without a target)."""
import pytest

from tests.conftest import run
from tests.robustness.conftest import small_project

pytestmark = pytest.mark.slow
TARGET = "train@multihot_dense"


def outputs(project) -> dict[str, bytes]:
    files = sorted((project / "metrics").rglob("*.json")) + [project / "data" / "stats.json", project / "dvc.lock"]
    files += sorted((project / "models" / "multihot_dense").rglob("*"))
    return {str(f.relative_to(project)): f.read_bytes() for f in files if f.is_file()}


def check(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_git_checkout_params_and_repro_restores_the_defaults_from_the_run_cache(tmp_path):
    project = small_project(tmp_path / "project")
    check(run(["dvc", "repro", TARGET], project))
    first = outputs(project)
    assert "data/stats.json" in first and "metrics/train/multihot_dense.json" in first
    run(["git", "add", "-A"], project)
    check(run(["git", "commit", "-qm", "defaults reproduced"], project))

    check(run(["dvc", "exp", "run", TARGET, "-S", "data.subsample=1200"], project))
    assert outputs(project)["data/stats.json"] != first["data/stats.json"]

    check(run(["git", "checkout", "params.yaml"], project))
    restored = check(run(["dvc", "repro", TARGET], project))
    assert "Running stage" not in restored.stdout, restored.stdout   # nothing retrained
    assert outputs(project) == first
    status = check(run(["dvc", "status", TARGET], project))
    assert "up to date" in status.stdout, status.stdout
    assert run(["git", "status", "--porcelain"], project).stdout == ""
