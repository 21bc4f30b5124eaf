"""Which MLflow models rnnops logged: a sha256 manifest of every file of each model it logs, kept
in the tracking store, and the check `rnnops predict` makes before any of a model's code runs.

At logging time (`record`) the model's files are read back from the store and hashed; the
manifest, canonical JSON `{"files": {relative path: sha256}}`, is logged as the run artifact
`rnnops/manifests/<model_id>.json`, and its sha256 as the tag `rnnops.manifest.<model_id>` on the
run that logged the model. The tag is the authority; the artifact only names the files that differ.

At load time (`verify`) a local copy of the model's files (a handed-over folder or a download of
a models:/ or runs:/ URI) must hash to the recorded manifest of the run its MLmodel names: in the
project's tracking store, where a handed-over folder cannot write. A folder is verified by its
files, not by what it says about itself, so a copy of a genuine model passes and any added,
missing or changed file (code/, the python_model file, MLmodel, artifacts) is refused.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from rnnops.project import sha256_file

TAG_PREFIX = "rnnops.manifest."
ARTIFACT_DIR = "rnnops/manifests"
# MLflow writes this file into every download of a models:/ URI (the registered name and
# version); it is not part of the logged model, so it is neither hashed nor loaded.
DOWNLOAD_ONLY = "registered_model_meta"
# What a refusal tells the user to use instead.
GENUINE = ("use a model rnnops logged to this project's store: `rnnops predict` (the registry "
           "champion), models:/rnnops-<dataset>@champion, runs:/<run_id>/text_model, or a models/<name> "
           "folder written by `make repro`")


class Untrusted(Exception):
    """The files are not a model rnnops logged; `reason` and `fix` are one sentence each."""

    def __init__(self, reason: str, fix: str = GENUINE):
        super().__init__(reason)
        self.reason, self.fix = reason, fix


def tag_key(model_id: str) -> str:
    return f"{TAG_PREFIX}{model_id}"


def artifact_file(model_id: str) -> str:
    return f"{ARTIFACT_DIR}/{model_id}.json"


def file_digests(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder` by its '/'-separated relative path. Only plain files
    and folders: a symbolic link or anything else is refused (rnnops logs none)."""
    folder = Path(folder)
    digests = {}
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in sorted(dirs + files):
            path = Path(root) / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                raise Untrusted(f"{rel} is a symbolic link (rnnops logs only plain files)")
            if name in dirs:
                continue
            if not path.is_file():
                raise Untrusted(f"{rel} is not a plain file (rnnops logs only plain files)")
            if rel != DOWNLOAD_ONLY:
                digests[rel] = sha256_file(path)
    return digests


def canonical(digests: dict[str, str]) -> bytes:
    return json.dumps({"files": digests}, sort_keys=True, separators=(",", ":")).encode()


def digest(digests: dict[str, str]) -> str:
    return hashlib.sha256(canonical(digests)).hexdigest()


# ---- logging time ---------------------------------------------------------------------------

def record(model_info) -> str:
    """Record the manifest of the model MLflow just logged (`mlflow.*.log_model`'s ModelInfo) on
    the run that logged it; returns the manifest's sha256 (the tag's value)."""
    import tempfile

    import mlflow

    client = mlflow.MlflowClient()
    with tempfile.TemporaryDirectory(prefix="rnnops-manifest-") as tmp:
        local = download(model_info.model_uri, Path(tmp))
        digests = file_digests(local)
    body = canonical(digests)
    value = hashlib.sha256(body).hexdigest()
    client.log_text(model_info.run_id, body.decode(), artifact_file(model_info.model_id))
    client.set_tag(model_info.run_id, tag_key(model_info.model_id), value)
    return value


# ---- load time ------------------------------------------------------------------------------

def download(uri: str, dest: Path) -> Path:
    """The model's files at `uri` copied under `dest` (nothing of it is loaded); returns the
    folder that holds MLmodel. Raises MlflowException when there is nothing at `uri`."""
    import mlflow

    dest.mkdir(parents=True, exist_ok=True)
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(dest)))
    if local.is_dir() and not local.is_symlink():
        (local / DOWNLOAD_ONLY).unlink(missing_ok=True)
    return local


def copy_folder(folder: Path, dest: Path) -> Path:
    """A copy of a local model folder's plain files (a link or special file is refused before
    anything is copied); the check and the load then read the copy, which nobody else writes."""
    file_digests(folder)  # refuses links and special files
    shutil.copytree(folder, dest, symlinks=True,
                    ignore=lambda d, names: [DOWNLOAD_ONLY] if Path(d) == Path(folder) else [])
    return dest


def verify(local: Path, registered: tuple[str, str] | None = None) -> dict:
    """Refuse (Untrusted) unless the files under `local` are exactly a model rnnops logged, as
    recorded in the current tracking store; `registered` = (name, version) the files were
    downloaded as, whose run must be the one the MLmodel names. Returns the MLmodel's run_id
    and model_id."""
    import mlflow
    import yaml

    mlmodel = local / "MLmodel"
    if not mlmodel.is_file():
        raise Untrusted("it has no MLmodel file at its top, so it is not an MLflow model folder")
    try:
        meta = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise Untrusted(f"its MLmodel is not valid YAML ({str(exc).splitlines()[0]})") from None
    meta = meta if isinstance(meta, dict) else {}
    run_id, model_id = meta.get("run_id"), meta.get("model_id")
    if not (isinstance(run_id, str) and run_id and isinstance(model_id, str) and model_id):
        raise Untrusted("its MLmodel names no run_id and model_id, so it was not logged by rnnops "
                        "(rnnops logs every model under a run, with a manifest of its files)")
    store = mlflow.get_tracking_uri()
    client = mlflow.MlflowClient()
    try:
        run = client.get_run(run_id)
    except mlflow.exceptions.MlflowException:
        raise Untrusted(
            f"the run {run_id} its MLmodel names is not in the tracking store {store}",
            f"{GENUINE}; for a model of another store, set MLFLOW_TRACKING_URI to that store") from None
    if registered is not None:
        version = client.get_model_version(*registered)
        if version.run_id and version.run_id != run_id:
            raise Untrusted(f"registered version {registered[0]}/{registered[1]} was logged by run "
                            f"{version.run_id}, but its MLmodel names run {run_id}")
    expected = run.data.tags.get(tag_key(model_id))
    if not expected:
        raise Untrusted(
            f"run {run_id} recorded no rnnops manifest for model {model_id} (tag {tag_key(model_id)}): "
            "rnnops did not log it, or logged it before it recorded manifests",
            f"{GENUINE}; a model rnnops logged before it recorded manifests: log it again by running its "
            "stage again (`dvc repro -f train@<name>`; `dvc repro -f evaluate` for the registered winner, "
            "then point @champion at the new version in the MLflow UI if it became @challenger)")
    actual = file_digests(local)
    if digest(actual) != expected:
        raise Untrusted(_differences(run_id, model_id, expected, actual),
                        "use the model from the store itself (models:/... or runs:/<run_id>/<name>), "
                        "not a copy, or download it again (`mlflow artifacts download -u models:/"
                        f"{model_id}`)")
    return {"run_id": run_id, "model_id": model_id}


def _differences(run_id: str, model_id: str, expected: str, actual: dict[str, str]) -> str:
    """Which files differ from the recorded manifest (read from the run's artifact, itself
    checked against the tag)."""
    import tempfile

    import mlflow

    head = f"its files differ from the manifest rnnops recorded for model {model_id} in run {run_id}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            body = Path(mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=artifact_file(model_id), dst_path=tmp)).read_bytes()
    except Exception:  # noqa: BLE001 - the tag alone already decided: refused
        return f"{head} (the manifest artifact {artifact_file(model_id)} is missing)"
    if hashlib.sha256(body).hexdigest() != expected:
        return f"{head} (and the manifest artifact {artifact_file(model_id)} does not match its tag)"
    recorded = json.loads(body)["files"]
    changed = sorted(p for p in recorded.keys() & actual.keys() if recorded[p] != actual[p])
    parts = [(what, sorted(files)) for what, files in (
        ("changed", changed), ("added", actual.keys() - recorded.keys()),
        ("missing", recorded.keys() - actual.keys())) if files]
    shown = "; ".join(f"{what}: {', '.join(files[:5])}" + (f" and {len(files) - 5} more" if len(files) > 5 else "")
                      for what, files in parts)
    return f"{head}: {shown}"
