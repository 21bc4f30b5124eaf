"""A small profile shared by the robustness tests: 1,500 tweets, two tiny models, a 2-trial study."""
import pytest

from tests.conftest import make_project, run, write_params

SMALL = dict(data={"subsample": 1500, "vocab_size": 2000}, train={"epochs": 2},
             models={"lstm": {"embedding_dim": 8, "units": 8}, "multihot_dense": {"hidden_units": [8]}},
             tune={"n_trials": 2, "epochs_per_trial": 1,
                   "space": {"model.units": {"type": "int", "low": 4, "high": 8, "step": 4}}})


def small_project(dest, **overrides):
    project = make_project(dest)
    sections = {**SMALL, **overrides}
    write_params(project / "params.yaml", **sections)
    run(["git", "commit", "-qam", "small profile"], project)
    return project


@pytest.fixture(scope="module")
def prepared_project(tmp_path_factory):
    """A small project with `prepare` done and dvc.lock committed."""
    project = small_project(tmp_path_factory.mktemp("robust") / "project")
    result = run(["dvc", "repro", "prepare"], project)
    assert result.returncode == 0, result.stderr[-2000:]
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "prepared"], project)
    return project


@pytest.fixture(scope="session")
def two_runs(finished_project, tmp_path_factory):
    """Two projects, each after a full `dvc repro` of the small profile: the session's finished
    project (tests/conftest.py; test_reproducibility changes it, after every e2e reader) and a
    second one of its own."""
    project = small_project(tmp_path_factory.mktemp("second") / "project")
    result = run(["dvc", "repro"], project, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return [finished_project, project]
