"""Params of K-fold and regression: settings that cannot work are errors naming the key and the fix
(forecasting refuses K-fold and says why; a K-fold objective without folds; a body that cannot
read the inputs; Keras' split on another dataset)."""
import pytest
import yaml

from rnnops.errors import ParamsError
from rnnops.params.load import load_params
from tests.conftest import REPO


def load_with(tmp_path, file: str, edit) -> object:
    raw = yaml.safe_load((REPO / file).read_text())
    edit(raw)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_params(path)


@pytest.mark.parametrize("file, edit, message", [
    ("forecast/params.yaml", lambda p: p["train"].update(folds=4),
     r"train\.folds: forecasting does not take K-fold cross-validation: folds would shuffle time.*Fix: remove train\.folds"),
    ("forecast/params.yaml", lambda p: p["tune"].update(cross_validate=True), r"Fix: remove tune\.cross_validate"),
    ("params.yaml", lambda p: p["tune"].update(cross_validate=True),
     r"tune\.cross_validate is true but train\.folds is 1\. Fix: set train\.folds to 2 or more"),
    ("regression/params.yaml", lambda p: p["models"].update(lstm={"units": 8}),
     r"models\.lstm: lstm does not read feature rows\. Fix: use architecture: dense"),
    ("regression/params.yaml", lambda p: p["data"].update(split="keras"),
     r"data\.split keras reproduces Keras' boston_housing split only"),
    ("regression/params.yaml", lambda p: p["train"].update(folds=0), r"train\.folds"),
])
def test_impossible_settings_are_clear_errors(tmp_path, file, edit, message):
    with pytest.raises(ParamsError, match=message):
        load_with(tmp_path, file, edit)


def test_defaults_load_with_their_fold_settings(tmp_path):
    regression = load_params(REPO / "regression" / "params.yaml")
    assert (regression.train.folds, regression.train.fold_model, regression.tune.cross_validate) == (4, "refit", True)
    text = load_params(REPO / "params.yaml")
    assert (text.train.folds, text.tune.cross_validate) == (1, False)
    assert "folds" not in load_params(REPO / "forecast" / "params.yaml").train.model_dump()
