"""`rnnops predict --model` runs only models rnnops logged or trained: an MLflow model must hash to
the manifest recorded in the project's tracking store, a `.keras` file to the run.json beside it,
and anything else (crafted pyfunc code, a changed copy, pickle, HDF5, lambdas) is refused with one
clear message, before any of its code runs."""
import hashlib
import json
import os
import pickle
import shutil
import textwrap
import uuid

import pytest
import yaml

from tests.conftest import BIN, run

pytestmark = pytest.mark.slow

TEXTS = ["what a lovely day", "the flight was late and the staff were rude", "hello"]


@pytest.fixture(scope="module")
def trained(prepared_project):
    result = run(["python", "pipeline/train.py", "multihot_dense"], prepared_project)
    assert result.returncode == 0, result.stderr[-2000:]
    return prepared_project


@pytest.fixture(scope="module")
def logged(trained):
    """The train run's ids and the folder of its logged text model in the project's store."""
    record = json.loads((trained / "models" / "multihot_dense" / "run.json").read_text())
    model_id = record["text_model_uri"].removeprefix("models:/")
    folder = trained / "mlruns" / "artifacts" / "models" / model_id / "artifacts"
    assert (folder / "MLmodel").is_file(), f"no logged text model at {folder}"
    return {"run_id": record["run_id"], "model_id": model_id, "folder": folder}


def predict(project, model, *args, texts=("hello",)):
    command = [str(BIN / "rnnops"), "predict", *([] if model is None else ["--model", str(model)]), *args, *texts]
    return run(command, project, timeout=300)  # subprocess.run kills the process on timeout


def predictions(project, model):
    result = predict(project, model, "--json", texts=TEXTS)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(result.stdout)
    assert [r["text"] for r in rows] == TEXTS
    return rows


def assert_refused(result, source, *parts):
    """Exit 1, one `error: <source>: refused: <reason>. Fix: <fix>` message, no traceback."""
    assert result.returncode == 1, result.stdout + result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stdout == ""
    assert f"error: {source}: refused: " in result.stderr, result.stderr[-3000:]
    assert "Fix: " in result.stderr.split(f"error: {source}: refused: ", 1)[1]
    for part in parts:
        assert part in result.stderr, f"{part!r} not in: {result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def by_folder(trained):
    """Predictions of the models/<name> folder the train stage wrote (its text_model.keras)."""
    return predictions(trained, trained / "models" / "multihot_dense")


def copy_of(folder, dest):
    shutil.copytree(folder, dest)
    return dest


# ---- genuine models are accepted, and give the same answers by every path -------------------------

def test_a_trained_model_folder_and_its_logged_model_give_the_same_predictions(trained, logged, by_folder):
    labels = json.loads((trained / "models" / "multihot_dense" / "labels.json").read_text())
    by_run = predictions(trained, f"runs:/{logged['run_id']}/text_model")
    by_id = predictions(trained, f"models:/{logged['model_id']}")
    for rows in (by_folder, by_run, by_id):
        for row in rows:
            proba = row["probabilities"]
            assert list(proba) == labels
            assert abs(sum(proba.values()) - 1) < 1e-5, proba
            assert all(0 <= p <= 1 for p in proba.values()), proba
            assert row["label"] == max(proba, key=proba.get), row
    for other in (by_run, by_id):
        assert [r["label"] for r in other] == [r["label"] for r in by_folder]
        for mine, theirs in zip(by_folder, other):
            for label in labels:
                assert abs(mine["probabilities"][label] - theirs["probabilities"][label]) <= 1e-6


def test_the_registry_champion_and_a_verbatim_copy_of_the_logged_model_are_accepted(trained, logged, by_folder,
                                                                                   tmp_path):
    register = textwrap.dedent(f"""
        import mlflow
        from rnnops.data.sources import dataset_name
        from rnnops.params.load import load_params
        from rnnops.tracking.registry import registered_model_name
        from rnnops.tracking.runs import tracking_uri
        mlflow.set_tracking_uri(tracking_uri())
        name = registered_model_name(dataset_name(load_params("params.yaml").data))
        version = mlflow.register_model("models:/{logged['model_id']}", name).version
        mlflow.MlflowClient().set_registered_model_alias(name, "champion", version)
        """)
    made = run(["python", "-c", register], trained)
    assert made.returncode == 0, made.stderr[-2000:]
    for model in (None, copy_of(logged["folder"], tmp_path / "copy")):  # None: the default, champion
        got = predictions(trained, model)
        assert [r["label"] for r in got] == [r["label"] for r in by_folder]
        for mine, theirs in zip(got, by_folder):
            assert all(abs(mine["probabilities"][k] - v) <= 1e-6 for k, v in theirs["probabilities"].items())


# ---- MLflow models rnnops did not log, or changed since, are refused before their code runs -------

@pytest.fixture(scope="module")
def crafted(trained, tmp_path_factory):
    """A pyfunc model from code whose module-level code writes a marker file when it is loaded."""
    base = tmp_path_factory.mktemp("crafted")
    marker = base / "code_ran"
    code = base / "evil_model.py"
    code.write_text(textwrap.dedent(f"""
        import pathlib
        pathlib.Path({str(marker)!r}).write_text("the model's code ran")
        import mlflow
        from mlflow.pyfunc import PythonModel

        class Echo(PythonModel):
            def predict(self, context, model_input, params=None):
                return model_input

        mlflow.models.set_model(Echo())
        """))
    save = f"import mlflow; mlflow.pyfunc.save_model({str(base / 'model')!r}, python_model={str(code)!r})"
    made = run(["python", "-c", save], trained)
    assert made.returncode == 0, made.stderr[-2000:]
    assert marker.is_file(), "the crafted model's code does not write its marker: the tests below prove nothing"
    marker.unlink()
    return {"folder": base / "model", "marker": marker}


def test_a_crafted_pyfunc_folder_is_refused_before_its_code_runs(trained, crafted):
    result = predict(trained, crafted["folder"])
    assert_refused(result, crafted["folder"], "names no run_id and model_id", "was not logged by rnnops",
                   "Fix: use a model rnnops logged")
    assert not crafted["marker"].exists()


def test_a_crafted_folder_naming_an_unknown_run_is_refused(trained, crafted, tmp_path):
    folder = copy_of(crafted["folder"], tmp_path / "model")
    meta = yaml.safe_load((folder / "MLmodel").read_text())
    meta.update(run_id=uuid.uuid4().hex, model_id=f"m-{uuid.uuid4().hex}")
    (folder / "MLmodel").write_text(yaml.safe_dump(meta))
    result = predict(trained, folder)
    assert_refused(result, folder, f"the run {meta['run_id']} its MLmodel names is not in the tracking store",
                   "MLFLOW_TRACKING_URI")
    assert not crafted["marker"].exists()


def test_a_crafted_folder_posing_as_the_genuine_model_is_refused(trained, crafted, logged, tmp_path):
    folder = copy_of(crafted["folder"], tmp_path / "model")
    meta = yaml.safe_load((folder / "MLmodel").read_text())
    meta.update(run_id=logged["run_id"], model_id=logged["model_id"])
    (folder / "MLmodel").write_text(yaml.safe_dump(meta))
    result = predict(trained, folder)
    assert_refused(result, folder, f"its files differ from the manifest rnnops recorded for model "
                   f"{logged['model_id']} in run {logged['run_id']}", "changed: MLmodel", "evil_model.py",
                   "missing: ", "artifacts/text_model.keras")
    assert not crafted["marker"].exists()


def test_a_copy_of_the_genuine_model_with_one_changed_byte_is_refused_naming_the_file(trained, logged, tmp_path):
    folder = copy_of(logged["folder"], tmp_path / "model")
    code = folder / "code" / "rnnops" / "data" / "batches.py"
    data = bytearray(code.read_bytes())
    data[-2] = ord("#") if data[-2] != ord("#") else ord(" ")  # one byte, still valid Python
    code.write_bytes(bytes(data))
    assert_refused(predict(trained, folder), folder, "its files differ from the manifest rnnops recorded",
                   "changed: code/rnnops/data/batches.py", "Fix: use the model from the store itself")


def test_a_copy_of_the_genuine_model_with_an_added_file_or_a_link_is_refused(trained, logged, tmp_path):
    added = copy_of(logged["folder"], tmp_path / "added")
    (added / "code" / "sitecustomize.py").write_text("print('hello from a stowaway')\n")
    assert_refused(predict(trained, added), added, "added: code/sitecustomize.py")
    linked = copy_of(logged["folder"], tmp_path / "linked")
    (linked / "artifacts" / "labels.json").unlink()
    os.symlink(trained / "models" / "multihot_dense" / "labels.json", linked / "artifacts" / "labels.json")
    assert_refused(predict(trained, linked), linked, "artifacts/labels.json is a symbolic link")


def test_a_model_changed_inside_the_store_is_refused_by_uri(trained, logged):
    code = logged["folder"] / "serving.py"
    original = code.read_bytes()
    uri = f"runs:/{logged['run_id']}/text_model"
    try:
        code.write_bytes(original + b"\n# changed in the store\n")
        assert_refused(predict(trained, uri), uri, "changed: serving.py")
    finally:
        code.write_bytes(original)


# ---- .keras files: recorded in run.json, loaded with safe_mode --------------------------------------

def test_hdf5_and_pickle_files_are_refused(trained, tmp_path):
    h5 = tmp_path / "model.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    assert_refused(predict(trained, h5), h5, "only .keras files", "Fix: pass a text_model.keras")
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(pickle.dumps({"not": "a model"}))
    assert_refused(predict(trained, pkl), pkl, "no pickle")


def test_a_keras_file_without_a_run_json_record_is_refused(trained, tmp_path):
    source = trained / "models" / "multihot_dense"
    for name in ("text_model.keras", "labels.json"):
        shutil.copy(source / name, tmp_path / name)
    model = tmp_path / "text_model.keras"
    assert_refused(predict(trained, model), model, "no run.json beside it records its sha256",
                   "Fix: pass a models/<name> folder as the train stage wrote it")
    (tmp_path / "run.json").write_text(json.dumps({"sha256": {"model.keras": "0" * 64}}))
    assert_refused(predict(trained, tmp_path), model, "records no sha256 for text_model.keras")


def test_keras_file_with_a_lambda_layer_is_refused(trained, tmp_path):
    script = (
        "import keras\n"
        "inp = keras.Input((3,))\n"
        "out = keras.layers.Lambda(lambda x: x * 2)(inp)\n"
        f"keras.Model(inp, out).save(r'{tmp_path / 'lambda.keras'}')\n")
    made = run(["python", "-c", script], trained)
    assert made.returncode == 0, made.stderr[-2000:]
    shutil.copy(trained / "models" / "multihot_dense" / "labels.json", tmp_path / "labels.json")
    # Even a file recorded in a run.json (which a handed-over folder can forge) gets safe_mode.
    digest = hashlib.sha256((tmp_path / "lambda.keras").read_bytes()).hexdigest()
    (tmp_path / "run.json").write_text(json.dumps({"sha256": {"lambda.keras": digest}}))
    assert_refused(predict(trained, tmp_path / "lambda.keras"), tmp_path / "lambda.keras",
                   "code that safe_mode does not run")


def test_tampered_model_is_refused(trained, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(trained / "models" / "multihot_dense", folder)
    model = folder / "text_model.keras"
    model.write_bytes(model.read_bytes() + b"\0")  # still a zip, but not the trained file
    assert_refused(predict(trained, model), model, "sha256", "run.json", "Fix: `dvc checkout`")
