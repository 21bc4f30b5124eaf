"""Every body the forecasting task allows, over numeric windows: builds, trains a step, forecasts
`horizon` values, reloads with safe_mode=True to identical forecasts; anchored models forecast the
change from the window's last value (a zero head is the naive forecast)."""
import numpy as np
import pytest

from rnnops.models.bodies import DatasetSpec, build_model
from rnnops.models.keras_io import load_keras_model
from rnnops.params.architectures import ARCHITECTURES
from rnnops.tasks import TASKS
from rnnops.tasks.forecast.params import ForecastTrainParams
from rnnops.training.fit import compile_model, set_determinism

SMALL = {"units": 8, "attention_units": 4, "embedding_dim": 8, "heads": 2, "ff_dim": 8,
         "hidden_units": [8], "dense_units": 4}
TRAIN = ForecastTrainParams(epochs=1, batch_size=8, optimizer="adam", learning_rate=0.01, clipnorm=1.0,
                            early_stopping={"monitor": "val_loss", "patience": 1},
                            reduce_lr={"factor": 0.5, "patience": 1, "min_lr": 0.0001})


def small_params(name):
    fields = ARCHITECTURES[name].model_fields
    values = {k: v for k, v in SMALL.items() if k in fields}
    if name == "stacked_lstm":
        values["units"] = [8, 4]
    return ARCHITECTURES[name](**values)


# Every body anchored (the default); the anchor is two layers around any body, so absolute levels
# are checked on one recurrent body and the Dense baseline.
CASES = [(name, True) for name in sorted(TASKS["forecast"].bodies)] + [("gru", False), ("dense", False)]


@pytest.mark.parametrize("name,anchored", CASES)
def test_forecast_body_contract(name, anchored, tmp_path):
    set_determinism(0)
    spec = DatasetSpec(vocab_size=0, num_classes=0, max_len=12, features=2, outputs=3, anchored=anchored)
    model = build_model(name, small_params(name), spec)
    compile_model(model, spec, TRAIN)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 12, 2)).astype("float32")
    y = rng.normal(size=(16, 3)).astype("float32")
    logs = model.train_on_batch(x, y, return_dict=True)
    assert np.isfinite(logs["loss"]) and set(logs) >= {"loss", "mae"}
    out = model.predict(x, verbose=0)
    assert out.shape == (16, 3) and np.all(np.isfinite(out))
    path = tmp_path / f"{name}.keras"
    model.save(path)
    np.testing.assert_array_equal(load_keras_model(path).predict(x, verbose=0), out)  # safe_mode=True


def test_an_anchored_model_with_a_zero_head_is_the_naive_forecast():
    spec = DatasetSpec(vocab_size=0, num_classes=0, max_len=5, features=2, outputs=3, anchored=True)
    model = build_model("gru", small_params("gru"), spec)
    change = model.get_layer("change")
    change.set_weights([np.zeros_like(w) for w in change.get_weights()])
    x = np.random.default_rng(1).normal(size=(4, 5, 2)).astype("float32")
    out = model.predict(x, verbose=0)
    np.testing.assert_allclose(out, np.repeat(x[:, -1:, 0], 3, axis=1), atol=1e-6)  # feature 0 = target


def test_an_anchored_model_sees_only_changes_relative_to_the_last_step():
    # The same window shifted by a constant level gives the same forecast shifted by that level.
    set_determinism(0)
    spec = DatasetSpec(vocab_size=0, num_classes=0, max_len=6, features=1, outputs=2, anchored=True)
    model = build_model("lstm", small_params("lstm"), spec)
    x = np.random.default_rng(2).normal(size=(3, 6, 1)).astype("float32")
    np.testing.assert_allclose(model.predict(x + 50.0, verbose=0), model.predict(x, verbose=0) + 50.0, atol=1e-4)


def test_a_model_window_reads_only_the_last_steps_and_rnn_layers_stack():
    set_determinism(0)
    spec = DatasetSpec(vocab_size=0, num_classes=0, max_len=12, features=1, outputs=2, anchored=True)
    params = ARCHITECTURES["rnn"](cell="gru", units=8, layers=2, window=5)
    model = build_model("rnn", params, spec)
    assert sum(layer.__class__.__name__ == "GRU" for layer in model.layers) == 2
    x = np.random.default_rng(3).normal(size=(4, 12, 1)).astype("float32")
    changed = x.copy()
    changed[:, :7] += 10.0   # steps before the last 5: not read
    np.testing.assert_allclose(model.predict(changed, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    changed[:, 8] += 1.0     # inside the window: read
    assert np.abs(model.predict(changed, verbose=0) - model.predict(x, verbose=0)).max() > 1e-4
