"""params.yaml validation: every problem reported with its key path, line and fix."""
import subprocess
import sys

import pytest
import yaml

from rnnops.params.load import load_params
from rnnops.project import flatten
from rnnops.errors import ParamsError
from tests.conftest import REPO, default_params, write_params


def test_repository_params_are_valid():
    params = load_params(REPO / "params.yaml")
    assert params.data.source == "tweets" and params.seed == 42


def test_problems_are_all_reported_with_key_path_and_line(tmp_path):
    path = tmp_path / "params.yaml"
    raw = default_params()
    raw["data"]["max_len"] = 2                 # out of range
    raw["data"]["vocab_sise"] = 100            # typo
    raw["data"]["source"] = "twitter"          # unknown source
    raw["data"]["lowercase"] = "maybe"         # wrong type
    del raw["data"]["val_fraction"]            # missing
    raw["trian"] = {}                          # unknown section
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ParamsError) as info:
        load_params(path)
    message = str(info.value)
    assert info.value.exit_code == 2
    assert "6 problem(s)" in message
    lines = path.read_text().splitlines()
    max_len_line = next(i for i, l in enumerate(lines, 1) if l.strip().startswith("max_len"))
    assert f"data.max_len (line {max_len_line}): input should be greater than or equal to 4, got 2" in message
    assert "data.vocab_sise" in message and "did you mean 'vocab_size'" in message
    assert "data.source" in message and "'tweets'" in message and "'twitter'" in message
    assert "data.lowercase" in message and "'maybe'" in message
    assert "data.val_fraction: missing" in message
    assert "trian" in message and "unknown key" in message


@pytest.mark.parametrize("text, expected", [
    ("seed: [1\n", "is not valid YAML"),
    ("- a\n- b\n", "expected a mapping"),
])
def test_malformed_yaml_is_rejected(tmp_path, text, expected):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(ParamsError, match=expected):
        load_params(path)


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(ParamsError, match="file not found"):
        load_params(tmp_path / "nope.yaml")


def test_csv_source_needs_a_path(tmp_path):
    path = write_params(tmp_path / "p.yaml", data={"source": "csv", "path": None})
    with pytest.raises(ParamsError, match="data.path is null"):
        load_params(path)


def test_a_schedule_and_the_plateau_rule_exclude_each_other(tmp_path):
    path = write_params(tmp_path / "p.yaml", train={"lr_schedule": {"type": "cosine_decay"}})
    with pytest.raises(ParamsError, match=r"train \(line 25\): train.lr_schedule and train.reduce_lr are both set.*"
                                          r"Fix: set reduce_lr: null"):
        load_params(path)
    off = load_params(write_params(tmp_path / "q.yaml", train={
        "lr_schedule": {"type": "cosine_decay", "warmup_epochs": 1}, "reduce_lr": None, "early_stopping": None}))
    assert off.train.early_stopping is None and off.train.monitor == "val_loss"
    assert off.train.lr_schedule.alpha == 0.0


def test_skip_top_must_leave_words(tmp_path):
    path = write_params(tmp_path / "p.yaml", data={"vocab_size": 100, "skip_top": 98})
    with pytest.raises(ParamsError, match="data.skip_top 98 leaves no word of data.vocab_size 100"):
        load_params(path)


def test_yaml_tags_that_construct_objects_are_refused(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("seed: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(path)


def test_flatten_gives_dotted_names():
    params = load_params(REPO / "params.yaml")
    flat = flatten(params.model_dump(serialize_as_any=True))
    assert flat["data.max_len"] == params.data.max_len
    assert flat["data.csv.text_column"] == "text"
    assert flat["models.lstm.units"] == params.models["lstm"].units
    assert flat["train.early_stopping.patience"] == params.train.early_stopping.patience


def test_models_blocks_are_checked_against_their_architecture(tmp_path):
    raw = default_params()
    raw["models"] = {"lstm": {"unitz": 3}, "gru": {"units": -1}, "lstmm": {},
                     "wide_gru": {"architecture": "gru", "units": 256}}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ParamsError) as info:
        load_params(path)
    message = str(info.value)
    assert "3 problem(s)" in message
    assert "models.lstm.unitz" in message and "did you mean 'units'" in message
    assert "models.gru.units" in message and "got -1" in message
    assert "models.lstmm (line" in message and "unknown architecture 'lstmm'" in message
    assert "transformer" in message
    raw["models"] = {"wide_gru": {"architecture": "gru", "units": 256}}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert load_params(path).model("wide_gru")[0] == "gru"


def test_bad_params_exit_2_before_tensorflow_or_mlflow_import(tmp_path):
    bad = write_params(tmp_path / "bad.yaml", data={"max_len": "long"})
    probe = (
        "import runpy, sys\n"
        f"sys.argv = ['prepare.py', '--params', {str(bad)!r}, '--out', {str(tmp_path / 'out')!r}]\n"
        "try:\n"
        f"    runpy.run_path({str(REPO / 'pipeline' / 'prepare.py')!r}, run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    print('exit', exc.code, 'tensorflow' in sys.modules, 'mlflow' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert "exit 2 False False" in out.stdout, out.stdout + out.stderr
    assert "data.max_len" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("key, dimension, expected", [
    ("model.unitz", {"type": "int", "low": 8, "high": 16}, "'model.unitz' is not a tunable key"),
    ("train.epochs", {"type": "int", "low": 1, "high": 3}, "not a tunable key"),
    ("model.dropout", {"type": "float", "low": 0.2, "high": 1.5}, "value 1.5 is invalid for model.dropout"),
    ("model.cell", {"type": "categorical", "choices": ["lstm", "tcn"]}, "value 'tcn' is invalid"),
    ("train.optimizer", {"type": "categorical", "choices": ["adam", "adagrad"]}, "'adagrad' is invalid"),
    ("train.learning_rate", {"type": "float", "low": 0.01, "high": 0.001}, "low (0.01) is above high"),
    ("train.learning_rate", {"type": "float", "low": 0.0, "high": 0.1, "log": True}, "log range needs low > 0"),
    ("model.units", {"type": "integer", "low": 8, "high": 16}, "expected tags: 'int', 'float', 'categorical'"),
    ("model.units", {"type": "int", "low": 8}, "tune.space.model.units.high: missing"),
])
def test_bad_search_space_entries_name_their_key(tmp_path, key, dimension, expected):
    raw = default_params()
    raw["tune"]["space"][key] = dimension
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ParamsError) as info:
        load_params(path)
    assert f"tune.space.{key}" in str(info.value) and expected in str(info.value)


def test_tune_settings_are_checked(tmp_path):
    raw = default_params()
    raw["tune"].update(metric="val_loss", direction="maximize", n_trials=0, pruner="asha")
    raw["models"]["tuned"] = {"architecture": "lstm"}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ParamsError) as info:
        load_params(path)
    message = str(info.value)
    assert "tune.n_trials" in message and "tune.pruner" in message and "'asha'" in message
    assert "models.tuned" in message and "reserved" in message
    raw["tune"].update(n_trials=5, pruner="median")  # the direction is checked once fields are valid
    del raw["models"]["tuned"]
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ParamsError, match="does not fit tune.metric val_loss. Fix: set direction: minimize"):
        load_params(path)


def test_best_params_file_becomes_the_tuned_model(tmp_path):
    from rnnops.params.load import with_tuned_model

    best = tmp_path / "best.json"
    best.write_text('{"models": {"tuned": {"architecture": "rnn", "cell": "gru", "units": 16}},'
                    ' "train": {"learning_rate": 0.005}}')
    params = with_tuned_model(load_params(REPO / "params.yaml"), best)
    assert list(params.models) == ["tuned"] and params.model("tuned")[0] == "rnn"
    assert params.models["tuned"].cell == "gru" and params.train.learning_rate == 0.005
    best.write_text('{"models": {"tuned": {"architecture": "rnn", "units": -1}}}')
    with pytest.raises(ParamsError, match="best.json: not a valid tuning result"):
        with_tuned_model(params, best)


def test_every_architecture_has_params_and_a_body():
    from rnnops.models.bodies import BODIES
    from rnnops.params.architectures import ARCHITECTURES

    assert sorted(BODIES) == sorted(ARCHITECTURES)
    with pytest.raises(KeyError, match="no params class"):
        from rnnops.models.bodies import register

        register("not_declared")
