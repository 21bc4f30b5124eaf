"""rnnops: a tracked MLOps pipeline for recurrent text classifiers.

Importing the package is cheap on purpose: TensorFlow and MLflow are imported only by the
modules that need them, so params validation answers before any heavy import.

Quiet by default: every stage imports this package before TensorFlow or MLflow, and this sets
their chatter off (TensorFlow's C++ start-up and graph notices, its "tf.function retracing"
warnings, MLflow's INFO lines and artifact download bars). A stage's terminal then shows its
own lines, Keras' progress, and warnings and errors that matter. `RNNOPS_VERBOSE=1` leaves every
library at its own defaults; a variable the user set (TF_CPP_MIN_LOG_LEVEL, MLFLOW_LOGGING_LEVEL,
MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR) always wins.
"""
__version__ = "0.1.0"

import logging as _logging
import os as _os

# Environment defaults read when TensorFlow / MLflow are imported (later, by the stage).
QUIET_ENV = {
    # 3 hides INFO (oneDNN notices), WARNING and ERROR lines of TensorFlow's C++ runtime, among
    # them tf.data's harmless "NodeDef mentions attribute use_unbounded_threadpool" and so absl's
    # "All log messages before absl::InitializeLog()" line that the first such message triggers.
    # A real failure still reaches Python as an exception with its message.
    "TF_CPP_MIN_LOG_LEVEL": "3",
    # MLflow's own loggers: WARNING and up ("Creating initial MLflow database tables", "Running
    # the predict function ...", "Failed to infer output type hint ..." are INFO).
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    # The tqdm bars of MLflow's artifact downloads (a model logged with an input example is
    # loaded back once to validate it).
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}

# Messages of the `tensorflow` Python logger dropped when quiet (the rest still shows).
_TF_NOISE = ("triggered tf.function retracing",)


def verbose() -> bool:
    """RNNOPS_VERBOSE=1 (or true / yes / on): library logging as the libraries default it."""
    return _os.environ.get("RNNOPS_VERBOSE", "").strip().lower() in ("1", "true", "yes", "on")


class _DropKnownNoise(_logging.Filter):
    def filter(self, record: _logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to hide
            return True
        return not any(noise in message for noise in _TF_NOISE)


def _quiet() -> None:
    if verbose():
        return
    for name, value in QUIET_ENV.items():
        _os.environ.setdefault(name, value)
    # The `tensorflow` logger object exists before TensorFlow does (logging.getLogger is what
    # tf.get_logger() calls), so the filter is in place for its first message.
    tf_logger = _logging.getLogger("tensorflow")
    if not any(isinstance(f, _DropKnownNoise) for f in tf_logger.filters):
        tf_logger.addFilter(_DropKnownNoise())


_quiet()
