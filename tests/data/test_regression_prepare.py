"""The regression prepare step's fitted statistics see training rows only: standardising with every
row (test included) would be leakage, and this test catches it; the test rows are standardised
with the training statistics, dividing by the standard deviation."""
import numpy as np
import yaml

from rnnops.params.load import load_params
from rnnops.tasks.regression.prepare import build
from rnnops.tasks.regression.table import load_table
from tests.conftest import REPO


def test_features_and_target_are_standardised_with_training_rows_only(tmp_path):
    rows = 40
    table = "a,b,y\n" + "".join(f"{i},{(i * 7) % 5},{i * 2.0}\n" for i in range(rows))
    (tmp_path / "t.csv").write_text(table)
    raw = yaml.safe_load((REPO / "regression" / "params.yaml").read_text())
    raw["data"].update({"source": "csv", "path": str(tmp_path / "t.csv"), "target": "y"})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    params = load_params(tmp_path / "params.yaml")
    loaded = load_table(params.data, params.seed)
    # Make the test rows extreme: any statistic that saw them moves far away.
    prepared_once = build(loaded, params)
    test_rows = prepared_once.rows["test"]
    loaded.features.iloc[test_rows, 0] = 1e6
    loaded.target = loaded.target.copy()
    loaded.target[test_rows] = -1e6
    prepared = build(loaded, params)
    fitted_rows = np.concatenate([prepared.rows["train"], prepared.rows["val"]])
    features = loaded.features.to_numpy(np.float64)
    np.testing.assert_allclose(prepared.spec["scaler"]["mean"], features[fitted_rows].mean(axis=0))
    np.testing.assert_allclose(prepared.spec["scaler"]["std"], features[fitted_rows].std(axis=0))
    assert prepared.spec["target_scale"]["mean"] == np.mean(loaded.target[fitted_rows])
    expected = (features[test_rows] - features[fitted_rows].mean(axis=0)) / features[fitted_rows].std(axis=0)
    np.testing.assert_allclose(prepared.x["test"][:, 0, :], expected, rtol=1e-6)   # divided, not subtracted
    assert np.array_equal(prepared.rows["test"], test_rows) and len(set(fitted_rows) & set(test_rows)) == 0
