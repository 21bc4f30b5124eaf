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
# Lines TensorFlow's C++ start-up writes to stderr whatever TF_CPP_MIN_LOG_LEVEL says, on CPUs
# where it turns oneDNN on (found on an AMD EPYC: logged through absl before absl is set up).
_TF_STARTUP_NOISE = ("All log messages before absl::InitializeLog() is called are written to STDERR",
                     "oneDNN custom operations are on.")


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


class _QuietTensorFlowImport:
    """A meta-path finder that wraps the first `import tensorflow` (whoever imports it: keras, a
    stage) so that file descriptor 2 goes to a temporary file while the library loads; afterwards
    every line but the known start-up notices is written back to stderr."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        import sys

        sys.meta_path.remove(self)  # once: the real finders do the work
        import importlib.util

        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            load = spec.loader.exec_module

            def exec_module(module):
                with _stderr_without(_TF_STARTUP_NOISE):
                    load(module)
            spec.loader.exec_module = exec_module
        return spec


class _stderr_without:
    def __init__(self, noise: tuple[str, ...]):
        self.noise = noise

    def __enter__(self):
        import sys
        import tempfile

        sys.stderr.flush()
        self.saved, self.capture = _os.dup(2), tempfile.TemporaryFile()
        _os.dup2(self.capture.fileno(), 2)

    def __exit__(self, *exc):
        import sys

        sys.stderr.flush()
        _os.dup2(self.saved, 2)
        _os.close(self.saved)
        self.capture.seek(0)
        text = self.capture.read().decode("utf-8", "replace")
        self.capture.close()
        kept = [line for line in text.splitlines(keepends=True) if not any(n in line for n in self.noise)]
        if kept:
            sys.stderr.write("".join(kept))
            sys.stderr.flush()
        return False


def _quiet() -> None:
    if verbose():
        return
    import sys

    for name, value in QUIET_ENV.items():
        _os.environ.setdefault(name, value)
    # INFO lines hidden (level >= 1, ours or the user's): make TensorFlow's start-up honour it too.
    level = _os.environ["TF_CPP_MIN_LOG_LEVEL"].strip()
    if (not level.isdigit() or int(level) >= 1) and "tensorflow" not in sys.modules \
            and not any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())
    # The `tensorflow` logger object exists before TensorFlow does (logging.getLogger is what
    # tf.get_logger() calls), so the filter is in place for its first message.
    tf_logger = _logging.getLogger("tensorflow")
    if not any(isinstance(f, _DropKnownNoise) for f in tf_logger.filters):
        tf_logger.addFilter(_DropKnownNoise())


_quiet()
