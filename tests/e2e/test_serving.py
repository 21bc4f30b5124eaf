"""`mlflow models serve` on a trained raw-text model: strict JSON (no NaN, even for empty or
whitespace-only texts), rows that are probability distributions equal to `rnnops predict`, and
HTTP 400 with a message for a bad payload. The server is always stopped. And the pyfunc itself:
chunked graph calls equal Keras' predict, and a model that still gives NaN is refused."""
import json
import subprocess

import numpy as np
import pytest

from tests.conftest import (BIN, env_for, free_port, make_project, post_json, run, stop_server, wait_for_http,
                            write_params)

pytestmark = pytest.mark.slow
MODELS = {"multihot_dense": {"hidden_units": [8]},
          "transformer": {"embedding_dim": 8, "heads": 2, "ff_dim": 8}}
LABELS = ["negative", "neutral", "positive"]
TEXTS = ["what a lovely flight", "", "the crew lost my bag, again!", "   ",
         "<br /> ünïcödé ✈️", "late " * 60 + "and rude"]


def strict_json(body: str):
    """json.loads that refuses NaN and Infinity, which Python's json accepts by default."""
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")
    return json.loads(body, parse_constant=refuse)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small tweets project with both models trained (prepare + train, no DVC)."""
    project = make_project(tmp_path_factory.mktemp("serving") / "project")
    write_params(project / "params.yaml", data={"subsample": 1000, "vocab_size": 1000},
                 train={"epochs": 1}, models=MODELS)
    for cmd in (["python", "pipeline/prepare.py"], *(["python", "pipeline/train.py", n] for n in MODELS)):
        result = run(cmd, project)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return project


@pytest.fixture(scope="module", params=sorted(MODELS))
def served(request, trained):
    """(project, model name, port) with `mlflow models serve` answering on that port."""
    name, port = request.param, free_port()
    uri = json.loads((trained / "models" / name / "run.json").read_text())["text_model_uri"]
    env = {**env_for(trained), "MLFLOW_TRACKING_URI": f"sqlite:///{trained / 'mlruns' / 'mlflow.db'}"}
    server = subprocess.Popen([str(BIN / "mlflow"), "models", "serve", "-m", uri, "--env-manager", "local",
                               "--host", "127.0.0.1", "--port", str(port)], cwd=trained, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/ping", server)
        yield trained, name, port
    finally:  # the whole process group: mlflow and the uvicorn it started
        stop_server(server)


post = post_json  # the name the tests below use


def test_served_rows_are_strict_json_distributions_equal_to_rnnops_predict(served):
    project, name, port = served
    status, body = post(port, json.dumps({"inputs": TEXTS}))
    assert status == 200, body
    rows = strict_json(body)["predictions"]
    assert [sorted(row) for row in rows] == [sorted(["label", *LABELS])] * len(TEXTS)
    served_proba = np.array([[row[label] for label in LABELS] for row in rows])
    np.testing.assert_allclose(served_proba.sum(axis=1), np.ones(len(TEXTS)), atol=1e-6)
    assert [row["label"] for row in rows] == [LABELS[i] for i in served_proba.argmax(axis=1)]
    # "" and "   " have no tokens: the same answer
    np.testing.assert_array_equal(served_proba[1], served_proba[3])

    (project / "texts.txt").write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    cli = run([str(BIN / "rnnops"), "predict", "--model", f"models/{name}", "--file", "texts.txt", "--json"],
              project)
    assert cli.returncode == 0, cli.stderr[-2000:]
    local = strict_json(cli.stdout)
    assert [r["text"] for r in local] == TEXTS
    local_proba = np.array([[r["probabilities"][label] for label in LABELS] for r in local])
    np.testing.assert_allclose(served_proba, local_proba, atol=1e-5)  # the CLI rounds to 1e-6


@pytest.mark.parametrize("body, code, message", [
    ('{"inputs": 5}', "INVALID_PARAMETER_VALUE", "Expected list, but got int"),
    ("not json", "BAD_REQUEST", "Ensure that input is a valid JSON formatted string"),
    ('{"inputs": ["fine", 7]}', "INVALID_PARAMETER_VALUE", "Expected type str, but got int"),
])
def test_a_bad_payload_gets_http_400_with_a_message(served, body, code, message):
    status, answer = post(served[2], body)
    assert status == 400
    error = strict_json(answer)
    assert error["error_code"] == code and message in error["message"]


def test_pyfunc_in_chunks_equals_keras_predict_and_refuses_non_finite_output(tmp_path):
    """More texts than one graph call takes, through the saved pyfunc, against Keras' predict; a
    text model pooled with GlobalAveragePooling1D (as transformers were before MaskedMeanPooling)
    gives 0/0 for "", which the pyfunc answers with an error instead of NaN."""
    import keras
    import mlflow
    from mlflow.exceptions import MlflowException

    from rnnops.data.batches import as_class_probabilities
    from rnnops.models.text_model import text_model
    from rnnops.tracking import serving

    ids = keras.Input(shape=(None,), dtype="int32")
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(10, 4, mask_zero=True)(ids))
    spec = {"max_len": 6, "truncation": "post", "padding": "post", "lowercase": True,
            "strip_html": True, "strip_punctuation": True}
    model = text_model(keras.Model(ids, keras.layers.Dense(3, activation="softmax")(pooled)), spec,
                       [f"w{i}" for i in range(2, 10)])
    model.save(tmp_path / "text_model.keras")
    (tmp_path / "labels.json").write_text(json.dumps(LABELS))
    mlflow.pyfunc.save_model(tmp_path / "pyfunc", python_model=serving.__file__, artifacts={
        "text_model": str(tmp_path / "text_model.keras"), "labels": str(tmp_path / "labels.json")})
    pyfunc = mlflow.pyfunc.load_model(str(tmp_path / "pyfunc"))

    texts = [" ".join(f"w{(i * 7 + k) % 9 + 1}" for k in range(i % 8 + 1)) for i in range(2 * serving.CHUNK + 3)]
    got = pyfunc.predict(texts)
    expected = as_class_probabilities(model.predict(np.array(texts, dtype=object), verbose=0), 3)
    assert len(got) == len(texts)
    np.testing.assert_allclose(got[LABELS].to_numpy(), expected, atol=1e-6)
    with pytest.raises(MlflowException, match=r"non-finite probabilities for input rows \[1\]"):
        pyfunc.predict(["w2 w3", "", "w4"])
