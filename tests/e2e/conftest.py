"""A finished small project shared by the end-to-end modules that only read it (one pipeline run
per session): the small profile of the robustness tests after a full `dvc repro`."""
import pytest

from tests.conftest import run
from tests.robustness.conftest import small_project


@pytest.fixture(scope="session")
def finished_project(tmp_path_factory):
    project = small_project(tmp_path_factory.mktemp("finished") / "project")
    result = run(["dvc", "repro"], project, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project
