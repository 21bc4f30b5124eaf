"""Presets and recipes become `dvc exp run -S` strings (rnnops.params.overrides): DVC's own
override code, applied to a copy of the params file, must write exactly the params rnnops
validated, for every shipped preset and recipe and for a replaced model list."""
import shutil

import pytest
import yaml
from dvc.utils.hydra import apply_overrides

from rnnops import recipes, retrain
from rnnops.errors import ParamsError
from rnnops.params.load import load_params
from rnnops.params.overrides import dvc_set_args
from tests.conftest import REPO

PRESETS = sorted(p.stem for p in (REPO / "presets").glob("*.yaml"))


def applied_by_dvc(tmp_path, params_file, sets):
    copy = tmp_path / "params.yaml"
    shutil.copyfile(params_file, copy)
    apply_overrides(copy, sets)
    return yaml.safe_load(copy.read_text())


def as_loaded(tmp_path, raw: dict):
    """The params a stage reads from `raw`. DVC writes 1e-05 for 0.00001, which YAML 1.1 (and so
    yaml.safe_load) reads as text; the params schema reads that text as the float again."""
    path = tmp_path / "loaded.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_params(path).model_dump()


@pytest.mark.parametrize("name", PRESETS)
def test_dvc_writes_what_each_preset_validated(tmp_path, name):
    settings = yaml.safe_load((REPO / "presets" / f"{name}.yaml").read_text())
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    sets = dvc_set_args(settings, raw, name, REPO / "params.yaml", add_keys=False)
    assert sets == retrain.preset_overrides(REPO / "presets" / f"{name}.yaml", REPO / "params.yaml")
    assert applied_by_dvc(tmp_path, REPO / "params.yaml", sets) == raw


@pytest.mark.parametrize("name", recipes.names(REPO))
def test_dvc_writes_what_each_recipe_validated(tmp_path, name):
    recipe = recipes.load(name, REPO, check_paths=False)
    settings = {**recipe.params, **recipe.variant}
    raw = yaml.safe_load((REPO / recipe.params_file).read_text())
    sets = dvc_set_args(settings, raw, name, REPO / recipe.params_file, add_keys=True)
    assert as_loaded(tmp_path, applied_by_dvc(tmp_path, REPO / recipe.params_file, sets)) == as_loaded(tmp_path, raw)


def test_models_and_tune_space_replace_their_blocks(tmp_path):
    settings = {"models": {"gru": {"units": 8}, "bag": {"architecture": "multihot_dense", "hidden_units": [16]}},
                "models.gru.units": 16, "data.max_len": 64, "tune.architecture": "nb_logistic",
                "tune.space": {"model.C": {"type": "float", "low": 0.1, "high": 3.0, "log": True}}}
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    sets = dvc_set_args(settings, raw, "mine.yaml", REPO / "params.yaml", add_keys=False)
    assert sets == ["~models", "+models={gru: {units: 8}, bag: {architecture: multihot_dense, hidden_units: [16]}}",
                    "models.gru.units=16", "data.max_len=64", "tune.architecture=nb_logistic",
                    "~tune.space", "+tune.space={model.C: {type: float, low: 0.1, high: 3.0, log: true}}"]
    written = applied_by_dvc(tmp_path, REPO / "params.yaml", sets)
    assert written["models"] == {"gru": {"units": 16},
                                 "bag": {"architecture": "multihot_dense", "hidden_units": [16]}}
    assert written["tune"]["space"] == {"model.C": {"type": "float", "low": 0.1, "high": 3.0, "log": True}}
    assert written == raw


@pytest.mark.parametrize("models", [[], {}, "lstm"])
def test_a_model_list_must_be_a_mapping(models):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    with pytest.raises(ParamsError, match=r"mine.yaml: 'models' replaces that block, so it must be a non-empty mapping"):
        dvc_set_args({"models": models}, raw, "mine.yaml", REPO / "params.yaml", add_keys=False)
