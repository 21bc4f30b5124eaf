"""`dvc exp run -S` rewrites the whole params.yaml (ruamel round trip: null becomes an empty value,
flow-style lines over 80 columns are wrapped, lists outside {...} turn into block lists). The
repository's params.yaml is written in that form already, so an experiment changes only the lines
it sets, and setting the values back gives the file byte for byte."""
import pytest
import yaml

from tests.conftest import REPO, make_project, run

pytestmark = pytest.mark.slow

# Keys of every kind the file holds: a top-level int, a null, a list inside a flow mapping, a
# block-style model entry, a null under tune.
CHANGED = ["seed=43", "data.subsample=2000", "models.stacked_lstm.units=[8,4]",
           "models.transformer.heads=4", "tune.timeout=60"]
ORIGINAL = ["seed=42", "data.subsample=null", "models.stacked_lstm.units=[64,32]",
            "models.transformer.heads=2", "tune.timeout=null"]


def exp_run(project, overrides):
    # A stage that does nothing keeps this fast: DVC applies -S to the workspace's params.yaml
    # (dvc.utils.hydra.apply_overrides) before it reproduces any target, whatever the stage.
    args = ["dvc", "exp", "run", "noop"]
    for override in overrides:
        args += ["-S", override]
    result = run(args, project)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_exp_run_set_param_and_back_leaves_params_yaml_byte_identical(tmp_path):
    project = make_project(tmp_path / "project")
    original = (project / "params.yaml").read_bytes()
    assert original == (REPO / "params.yaml").read_bytes()
    added = run(["dvc", "stage", "add", "-n", "noop", "-p", "seed", "python -c pass"], project)
    assert added.returncode == 0, added.stderr
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "a stage that does nothing"], project)

    exp_run(project, CHANGED)
    changed = (project / "params.yaml").read_text()
    assert yaml.safe_load(changed)["models"]["stacked_lstm"]["units"] == [8, 4]
    diff = run(["git", "diff", "--numstat", "--", "params.yaml"], project).stdout.split()
    assert diff[:2] == [str(len(CHANGED))] * 2, run(["git", "diff", "params.yaml"], project).stdout

    exp_run(project, ORIGINAL)
    assert (project / "params.yaml").read_bytes() == original, \
        run(["git", "diff", "params.yaml"], project).stdout
