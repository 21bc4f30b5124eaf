"""`rnnops predict --model` refuses what could run code or was changed after training."""
import pickle
import shutil

import pytest

from tests.conftest import BIN, run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(prepared_project):
    result = run(["python", "pipeline/train.py", "multihot_dense"], prepared_project)
    assert result.returncode == 0, result.stderr[-2000:]
    return prepared_project


def predict(project, model):
    return run([str(BIN / "rnnops"), "predict", "--model", str(model), "hello"], project)


def assert_refused(result, *words):
    assert result.returncode == 1, result.stdout + result.stderr
    assert "refused" in result.stderr and "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


def test_a_trained_model_folder_is_accepted(trained):
    result = predict(trained, trained / "models" / "multihot_dense")
    assert result.returncode == 0, result.stderr[-2000:]


def test_hdf5_and_pickle_files_are_refused(trained, tmp_path):
    h5 = tmp_path / "model.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    assert_refused(predict(trained, h5), "only .keras files")
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(pickle.dumps({"not": "a model"}))
    assert_refused(predict(trained, pkl), "no pickle")


def test_keras_file_with_a_lambda_layer_is_refused(trained, tmp_path):
    script = (
        "import keras\n"
        "inp = keras.Input((3,))\n"
        "out = keras.layers.Lambda(lambda x: x * 2)(inp)\n"
        f"keras.Model(inp, out).save(r'{tmp_path / 'lambda.keras'}')\n")
    made = run(["python", "-c", script], trained)
    assert made.returncode == 0, made.stderr[-2000:]
    shutil.copy(trained / "models" / "multihot_dense" / "labels.json", tmp_path / "labels.json")
    assert_refused(predict(trained, tmp_path / "lambda.keras"), "code that safe_mode does not run")


def test_tampered_model_is_refused(trained, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(trained / "models" / "multihot_dense", folder)
    model = folder / "text_model.keras"
    model.write_bytes(model.read_bytes() + b"\0")  # still a zip, but not the trained file
    assert_refused(predict(trained, model), "sha256", "run.json")
