"""Params of the generation task (generation/params.yaml): settings a language model cannot use are
errors naming the key (and its line where the key has one) and the fix: K folds, reading
backwards, a bidirectional body, a zero temperature, a txt source without its file; the defaults
and a tuned window length load."""
import re

import pytest
import yaml

from rnnops.errors import ParamsError
from rnnops.params.load import load_params
from rnnops.tasks.generation.params import GenerationParams
from tests.conftest import REPO

FILE = REPO / "generation" / "params.yaml"


def write_with(tmp_path, edit):
    raw = yaml.safe_load(FILE.read_text())
    edit(raw)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def line_of(path, *keys: str) -> int:
    """1-based line of the key at `keys` (a path of mapping keys) in the written file."""
    node = yaml.compose(path.read_text())
    for key in keys:
        key_node, node = next((k, v) for k, v in node.value if k.value == key)
    return key_node.start_mark.line + 1


def problem(tmp_path, edit) -> tuple[str, object]:
    """(the ParamsError message, the file's path)."""
    path = write_with(tmp_path, edit)
    with pytest.raises(ParamsError) as error:
        load_params(path)
    message = str(error.value)
    assert message.startswith(f"{path}: 1 problem(s), nothing was run:"), message
    return message, path


@pytest.mark.parametrize("edit, key, message", [
    (lambda p: p["data"].update(colour="red"), "data.colour",
     r"data\.colour \(line {line}\): unknown key\. Fix: remove it or correct the spelling \(known keys here: source,"),
    (lambda p: p["train"].update(seq_lenn=32), "train.seq_lenn",
     r"train\.seq_lenn \(line {line}\): unknown key\. Fix: remove it or correct the spelling "
     r"\(did you mean 'seq_len'\?\)"),
    (lambda p: p.update(epochs=3), "epochs", r"epochs \(line {line}\): unknown key\. Fix: remove it"),
], ids=["data.colour", "misspelt train.seq_len", "top level"])
def test_an_unknown_key_is_rejected_with_its_line(tmp_path, edit, key, message):
    text, path = problem(tmp_path, edit)
    assert re.search(message.format(line=line_of(path, *key.split("."))), text), text


@pytest.mark.parametrize("edit, message", [
    (lambda p: p["train"].update(folds=4),
     r"train \(line \d+\): train\.folds: a language model is scored on held-out documents \(bits per token\), "
     r"not K folds\. Fix: remove train\.folds"),
    (lambda p: p["tune"].update(cross_validate=True),
     r"tune \(line \d+\): tune\.cross_validate: a language model is scored on held-out documents "
     r"\(bits per token\), not K folds\. Fix: remove tune\.cross_validate"),
], ids=["train.folds", "tune.cross_validate"])
def test_k_folds_are_not_for_generation(tmp_path, edit, message):
    text, _ = problem(tmp_path, edit)
    assert re.search(message, text), text


@pytest.mark.parametrize("edit, message", [
    (lambda p: p["models"]["gru"].update(bidirectional=True),
     r"models\.gru: bidirectional layers see the next token\. Fix: bidirectional: false"),
    (lambda p: p["models"].update(backwards={"architecture": "rnn", "cell": "lstm", "bidirectional": True}),
     r"models\.backwards: bidirectional layers see the next token\. Fix: bidirectional: false"),
    (lambda p: p["tune"]["base"].update(bidirectional=True),
     r"tune\.base: bidirectional: true sees the next token\. Fix: false"),
    (lambda p: p["tune"]["space"].update({"model.bidirectional": {"type": "categorical", "choices": [True, False]}}),
     r"tune\.space model\.bidirectional: a language model cannot read backwards\. Fix: remove it"),
], ids=["models.gru", "architecture rnn", "tune.base", "tune.space"])
def test_a_model_that_reads_backwards_is_rejected(tmp_path, edit, message):
    text, _ = problem(tmp_path, edit)
    assert re.search(message, text), text


@pytest.mark.parametrize("edit, key", [
    (lambda p: p["models"].update(bi={"architecture": "bilstm", "units": 32}), "models.bi"),
    (lambda p: p["models"].update(bilstm={"units": 32}), "models.bilstm"),
    (lambda p: p["models"].update(bigru={}), "models.bigru"),
], ids=["architecture: bilstm", "key bilstm", "key bigru"])
def test_a_body_outside_the_generation_task_is_rejected(tmp_path, edit, key):
    text, path = problem(tmp_path, edit)
    arch = "bigru" if key.endswith("bigru") else "bilstm"
    assert (f"{key} (line {line_of(path, *key.split('.'))}): architecture '{arch}' does not apply to task generation. "
            "Fix: use one of simple_rnn, lstm, gru, rnn, stacked_lstm, transformer") in text, text


def test_a_zero_temperature_is_rejected(tmp_path):
    text, path = problem(tmp_path, lambda p: p["sampling"].update(temperatures=[0, 1.0]))
    assert (f"sampling (line {line_of(path, 'sampling')}): sampling.temperatures [0.0, 1.0]: temperatures must be > 0. Fix: use positive values "
            "(greedy decoding is `greedy: true` at generation time)") in text, text


@pytest.mark.parametrize("source", ["txt", "csv", "imdb"])
def test_a_file_source_without_a_path_is_rejected(tmp_path, source):
    text, path = problem(tmp_path, lambda p: p["data"].update(source=source, path=None))
    assert (f"data (line {line_of(path, 'data')}): data.source is {source} but data.path is null. "
            "Fix: set data.path to the file") in text, text


def test_a_window_length_outside_its_range_in_the_tune_space_is_rejected(tmp_path):
    text, path = problem(tmp_path, lambda p: p["tune"]["space"].update(
        {"train.seq_len": {"type": "categorical", "choices": [1, 32]}}))
    assert (f"tune.space.train.seq_len (line {line_of(path, 'tune', 'space', 'train.seq_len')}): value 1 is invalid "
            "for train.seq_len") in text and "Fix: narrow the range" in text, text


@pytest.mark.parametrize("dimension, longest", [
    ({"type": "categorical", "choices": [16, 128]}, 128),
    ({"type": "int", "low": 8, "high": 48}, 64),     # train.seq_len (64) is longer
    ({"type": "int", "low": 8, "high": 200}, 200),
])
def test_a_tuned_window_length_is_accepted(tmp_path, dimension, longest):
    params = load_params(write_with(tmp_path, lambda p: p["tune"]["space"].update({"train.seq_len": dimension})))
    assert params.tune.space["train.seq_len"].model_dump(include=set(dimension)) == dimension
    assert params.longest_window() == longest  # what prepare checks every split's stream against


def test_the_defaults_load(tmp_path):
    params = load_params(FILE)
    assert isinstance(params, GenerationParams) and params.task == "generation"
    assert params.train.stride is None  # null = seq_len
    assert (params.train.seq_len, params.longest_window()) == (64, 96)
    assert (params.data.source, params.data.path, params.data.level) == ("tweets", None, "char")
    assert "folds" not in params.train.model_dump()
    assert sorted(params.models) == ["gru", "notes_lstm", "transformer"]
    stride = load_params(write_with(tmp_path, lambda p: p["train"].update(stride=16)))
    assert stride.train.stride == 16
