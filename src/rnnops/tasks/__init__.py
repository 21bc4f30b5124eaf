"""Tasks: what a pipeline learns. One set of stages (pipeline/*.py) serves every task.

A task is one plug-in: its params class (the `task:` key of a params file picks it), the
registered bodies it may use (rnnops.models.bodies), and one module per part. Each part module
defines the functions the shared stage scripts call:

- prepare:  experiment_key(params); run_params; prepare(params) -> result; write; log_to_mlflow;
            load(dir) -> the prepared data every later stage reads; describe
- train:    fit_inputs(params, prepared) -> (DatasetSpec, arrays, scorer) for the shared loop
            (rnnops.training.fit, also the tune stage's); train; run_params; tags; scores (the
            DVC metrics); facts; write; log_to_mlflow; describe
- evaluate: evaluate(...) (members, ensembles, winner on validation, test once); run(...) writes the
            outputs, logs and registers through the shared registry rules; describe
- report:   INPUTS (flag -> default path); collect; experiment_key; write; log_to_mlflow
- serving:  PYFUNC, the MLflow pyfunc class that takes raw inputs (texts; a history)

Everything else is shared: the training loop and callbacks, tracking, atomic outputs, the Optuna
stage, the registry rules. A task that lacks a part fails when this module is imported, naming
the task, the module and what is missing; modules are checked by reading their source, so the
check imports nothing heavy (params are validated before TensorFlow loads).
"""
from __future__ import annotations

import ast
import importlib
import importlib.util
from dataclasses import dataclass, field

PARTS: dict[str, tuple[str, ...]] = {
    "prepare": ("experiment_key", "run_params", "prepare", "write", "log_to_mlflow", "load", "describe"),
    "train": ("fit_inputs", "train", "run_params", "tags", "scores", "facts", "write", "log_to_mlflow",
              "describe"),
    "evaluate": ("evaluate", "run", "describe"),
    "report": ("INPUTS", "collect", "experiment_key", "write", "log_to_mlflow"),
    "serving": ("PYFUNC",),
}


class TaskDefinitionError(ImportError):
    """A task plug-in that does not supply every part: a programming error, raised at import."""


@dataclass(frozen=True)
class Task:
    name: str                       # the `task:` value in a params file
    params: str                     # "module:Class" of its validated params (imported lazily)
    bodies: tuple[str, ...]         # registered architectures its models may use
    modules: dict[str, str]         # part -> module implementing it
    numeric: bool = False           # its models read numeric steps (a window), not token ids
    summary: str = ""               # one line for the README
    _loaded: dict = field(default_factory=dict, compare=False, repr=False)

    def part(self, name: str):
        """The module implementing `name` (imported on first use)."""
        if name not in self._loaded:
            self._loaded[name] = importlib.import_module(self.modules[name])
        return self._loaded[name]

    def params_class(self):
        module, _, cls = self.params.partition(":")
        return getattr(importlib.import_module(module), cls)


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def _defined_names(module: str) -> set[str]:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        return set()
    tree = ast.parse(open(spec.origin, encoding="utf-8").read(), spec.origin)
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            names |= {a.asname or a.name for a in node.names}
    return names


def check(task: Task) -> Task:
    """Every part present, each module defining what the stages call; raises TaskDefinitionError."""
    problems = []
    for part, wanted in PARTS.items():
        module = task.modules.get(part)
        if module is None:
            problems.append(f"no '{part}' module")
            continue
        if not _exists(module):
            problems.append(f"'{part}' module {module} does not exist")
            continue
        missing = [name for name in wanted if name not in _defined_names(module)]
        if missing:
            problems.append(f"{module} lacks {', '.join(missing)}")
    if problems:
        raise TaskDefinitionError(f"task '{task.name}' is incomplete: {'; '.join(problems)}. Fix: "
                                  f"supply every part ({', '.join(PARTS)}); see rnnops.tasks.")
    return task


TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    TASKS[task.name] = check(task)
    return task


register(Task(
    name="text_classification",
    params="rnnops.params.load:Params",
    bodies=("simple_rnn", "lstm", "gru", "bilstm", "bigru", "rnn", "stacked_lstm", "lstm_attention",
            "transformer", "multihot_dense", "nb_logistic"),
    modules={"prepare": "rnnops.stages.prepare", "train": "rnnops.stages.train",
             "evaluate": "rnnops.stages.evaluate", "report": "rnnops.stages.report",
             "serving": "rnnops.tracking.serving"},
    summary="texts -> a label (tweets by default; imdb, reuters, your CSV)",
))

register(Task(
    name="forecast",
    params="rnnops.tasks.forecast.params:ForecastParams",
    bodies=("simple_rnn", "lstm", "gru", "bilstm", "bigru", "rnn", "stacked_lstm", "lstm_attention",
            "transformer", "dense"),
    modules={"prepare": "rnnops.tasks.forecast.prepare", "train": "rnnops.tasks.forecast.train",
             "evaluate": "rnnops.tasks.forecast.evaluate", "report": "rnnops.tasks.forecast.report",
             "serving": "rnnops.tasks.forecast.serving"},
    numeric=True,
    summary="a time series -> its next `horizon` values (weekly CO2 by default; sunspots, nile, sine, your CSV)",
))

register(Task(
    name="regression",
    params="rnnops.tasks.regression.params:RegressionParams",
    bodies=("simple_rnn", "lstm", "gru", "bilstm", "bigru", "rnn", "stacked_lstm", "lstm_attention",
            "transformer", "dense"),
    modules={"prepare": "rnnops.tasks.regression.prepare", "train": "rnnops.tasks.regression.train",
             "evaluate": "rnnops.tasks.regression.evaluate", "report": "rnnops.tasks.regression.report",
             "serving": "rnnops.tasks.regression.serving"},
    summary="feature rows or texts -> a number (diabetes by default; boston with Keras' split, "
            "IMDB star ratings, your CSV); K-fold",
))

register(Task(
    name="generation",
    params="rnnops.tasks.generation.params:GenerationParams",
    # causal bodies only: a bidirectional layer would read the token it predicts
    bodies=("simple_rnn", "lstm", "gru", "rnn", "stacked_lstm", "transformer"),
    modules={"prepare": "rnnops.tasks.generation.prepare", "train": "rnnops.tasks.generation.train",
             "evaluate": "rnnops.tasks.generation.evaluate", "report": "rnnops.tasks.generation.report",
             "serving": "rnnops.tasks.generation.serving"},
    summary="a corpus -> a character- or word-level language model that generates text (tweets by "
            "default; IMDB reviews, your CSV or .txt); n-gram peer, sampling, incremental decoding",
))

register(Task(
    name="seq2seq",
    params="rnnops.tasks.seq2seq.params:Seq2SeqParams",
    bodies=("seq2seq_rnn", "seq2seq_transformer"),  # encoder-decoders: two inputs, a target sequence out
    modules={"prepare": "rnnops.tasks.seq2seq.prepare", "train": "rnnops.tasks.seq2seq.train",
             "evaluate": "rnnops.tasks.seq2seq.evaluate", "report": "rnnops.tasks.seq2seq.report",
             "serving": "rnnops.tasks.seq2seq.serving"},
    summary="source texts -> target texts with encoder-decoders, attention and beam search (date "
            "normalisation in a dozen locales by default; your tab-separated or CSV pairs)",
))


def get(name: str) -> Task:
    return TASKS[name]
