"""What a user sees in a stage's terminal: the stage's own lines and Keras' progress, not
TensorFlow's C++ start-up notices, its retracing warnings, MLflow's INFO lines or its download
bars. RNNOPS_VERBOSE=1 brings the libraries' own logging back; a user's own settings win; warnings
that matter still show."""
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import env_for, run
from tests.robustness.conftest import small_project

pytestmark = pytest.mark.slow

# Each of these was in the log of `dvc repro prepare train@multihot_dense` before.
NOISE = {
    "oneDNN notice": "oneDNN custom operations",
    "absl pre-init line": "absl::InitializeLog()",
    "tf.data NodeDef line": "use_unbounded_threadpool",
    "C++ log line": "node_def_util.cc",
    "retracing warning": "triggered tf.function retracing",
    "MLflow INFO line": " INFO mlflow",
    "MLflow database set-up": "Creating initial MLflow database tables",
    "MLflow signature inference": "Running the predict function",
    "MLflow download bar": "Downloading artifacts",
}
SETTINGS = ("RNNOPS_VERBOSE", "TF_CPP_MIN_LOG_LEVEL", "MLFLOW_LOGGING_LEVEL", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")


def stage_env(project, **extra) -> dict:
    """The environment of a user who set none of the logging variables (the pytest process
    may have: importing rnnops sets its defaults), plus `extra`."""
    env = {k: v for k, v in env_for(project).items() if k not in SETTINGS}
    return {**env, **extra}


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def noise_in(text: str) -> list[str]:
    return [f"{what}: {pattern!r}" for what, pattern in NOISE.items() if pattern in text]


def test_stage_logs_are_quiet_by_default_and_verbose_on_request(tmp_path):
    project = small_project(tmp_path / "project", train={"epochs": 2},
                            models={"multihot_dense": {"hidden_units": [8]}})
    python = sys.executable
    prepare = run([python, "pipeline/prepare.py"], project, env=stage_env(project))
    assert prepare.returncode == 0, output(prepare)[-3000:]
    train = run([python, "pipeline/train.py", "multihot_dense"], project, env=stage_env(project))
    assert train.returncode == 0, output(train)[-3000:]
    log = output(prepare) + output(train)

    assert not noise_in(log), f"noise in a default stage log: {noise_in(log)}\n{log[-4000:]}"
    assert "prepare: tweets:" in output(prepare)  # the stages' own summary lines
    assert "train@multihot_dense: val accuracy" in output(train) and "test accuracy" in output(train)
    assert "Epoch 1/2" in output(train) and "val_accuracy" in output(train)  # Keras' progress
    assert "Traceback" not in log

    # RNNOPS_VERBOSE=1: the libraries' own logging (a fresh store, so MLflow creates its tables).
    shutil.rmtree(project / "mlruns")
    verbose = run([python, "pipeline/prepare.py"], project, env=stage_env(project, RNNOPS_VERBOSE="1"))
    assert verbose.returncode == 0, output(verbose)[-3000:]
    assert "INFO mlflow" in output(verbose) and "Creating initial MLflow database tables" in output(verbose)
    assert "prepare: tweets:" in output(verbose)


def probe(code: str, **env) -> subprocess.CompletedProcess:
    """`python -c code` with rnnops importable and only `env` among the logging settings."""
    base = {k: v for k, v in os.environ.items() if k not in SETTINGS and not k.startswith("MLFLOW_")}
    return subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True,
                          timeout=300)


SHOW_ENV = "import os, rnnops; print([os.environ.get(k) for k in {!r}])".format(SETTINGS[1:])


def test_quiet_defaults_yield_to_the_users_settings():
    default = probe(SHOW_ENV)
    assert default.stdout.strip() == "['3', 'WARNING', 'false']", default.stderr
    own = probe(SHOW_ENV, TF_CPP_MIN_LOG_LEVEL="1", MLFLOW_LOGGING_LEVEL="DEBUG")
    assert own.stdout.strip() == "['1', 'DEBUG', 'false']", own.stderr
    verbose = probe(SHOW_ENV, RNNOPS_VERBOSE="1")
    assert verbose.stdout.strip() == "[None, None, None]", verbose.stderr


def test_warnings_that_matter_still_show():
    code = ("import logging, warnings, rnnops, mlflow\n"
            "logging.getLogger('tensorflow').warning('a tensorflow warning of substance')\n"
            "logging.getLogger('tensorflow').warning('5 calls triggered tf.function retracing')\n"
            "logging.getLogger('mlflow.tracking').warning('an mlflow warning of substance')\n"
            "logging.getLogger('mlflow.tracking').info('an mlflow info line')\n"
            "warnings.warn('a python warning we do not know', UserWarning)\n"
            "raise SystemExit('our own error message')\n")
    result = probe(code)
    for shown in ("a tensorflow warning of substance", "an mlflow warning of substance",
                  "a python warning we do not know", "our own error message"):
        assert shown in result.stderr, f"{shown!r} hidden:\n{result.stderr}"
    assert "retracing" not in result.stderr and "an mlflow info line" not in result.stderr
    verbose = probe(code, RNNOPS_VERBOSE="1")
    assert "retracing" in verbose.stderr and "an mlflow info line" in verbose.stderr
