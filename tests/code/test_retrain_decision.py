"""rnnops.retrain: the champion decision against main's committed metrics, and dataset presets."""
import pytest

from rnnops import retrain
from rnnops.errors import ParamsError
from tests.conftest import REPO

SPLIT = "a" * 64


def metrics(accuracy=0.75, loss=0.5, split=SPLIT, promote="test.accuracy"):
    return {"val": {"accuracy": 0.7, "macro_f1": 0.6, "loss": 0.6},
            "test": {"accuracy": accuracy, "macro_f1": 0.7, "loss": loss, "roc_auc": 0.8},
            "promote_metric": promote, "test_split_sha256": split}


def test_no_committed_results_make_a_first_baseline():
    d = retrain.from_committed_metrics(None, metrics(), "origin/main")
    assert (d.champion_changed, d.new_value, d.champion_value) == (True, 0.75, None)
    assert d.reason == "no results committed at origin/main: this run is the first baseline"
    assert d.against == "metrics/evaluate.json at origin/main"


@pytest.mark.parametrize("new, changed, reason", [
    (0.75001, True, "beats the champion on the same test split"),
    (0.75, False, "does not beat the champion on the same test split"),
    (0.7, False, "does not beat the champion on the same test split"),
])
def test_same_split_compares_the_promote_metric(new, changed, reason):
    d = retrain.from_committed_metrics(metrics(0.75), metrics(new), "main")
    assert (d.champion_changed, d.reason, d.new_value, d.champion_value) == (changed, reason, new, 0.75)


def test_another_split_is_a_new_baseline_said_as_such():
    d = retrain.from_committed_metrics(metrics(0.9, split="b" * 64), metrics(0.6), "main")
    assert d.champion_changed is True and d.champion_value == 0.9
    assert d.reason.startswith("main's champion was scored on another test split (sha256 bbbbbbbbbbbb... vs aaaaaaaaaaaa...)")


def test_a_loss_improves_downwards():
    base, new = metrics(loss=0.5, promote="test.loss"), metrics(loss=0.4, promote="test.loss")
    assert retrain.from_committed_metrics(base, new, "main").champion_changed is True
    assert retrain.from_committed_metrics(new, base, "main").champion_changed is False


def test_decision_line_and_markdown_carry_both_numbers():
    d = retrain.from_committed_metrics(metrics(0.75), metrics(0.8), "main")
    assert d.line() == ("retrain: champion changed: true: new winner test.accuracy 0.8000 vs champion 0.7500 "
                        "[metrics/evaluate.json at main]: beats the champion on the same test split")
    assert "| new winner | 0.80000 | - |" in d.markdown() and "| champion | 0.75000 | - |" in d.markdown()


def test_presets_become_dvc_exp_run_overrides():
    presets = REPO / "presets"
    assert sorted(p.stem for p in presets.glob("*.yaml")) == ["imdb", "reuters", "tweets"]
    imdb = retrain.preset_overrides(presets / "imdb.yaml", REPO / "params.yaml")
    assert imdb[:6] == ["data.source=imdb", "data.path=null", "data.vocab_size=30000", "data.max_len=1500",
                        "train.epochs=6", "train.learning_rate=0.0005"]
    assert imdb[6:8] == ["~models", "+models={gru: {embedding_dim: 64, units: 64, dropout: 0.3}, "
                         "bigru: {embedding_dim: 64, units: 64, dropout: 0.3}, multihot_dense: {hidden_units: [64], "
                         "dropout: 0.5, bigram_buckets: 524288}, nb_logistic: {bigram_buckets: 524288, alpha: 1.0, C: 1.0}}"]
    assert imdb[-4:] == ["+tune.space={model.C: {type: float, low: 0.1, high: 3.0, log: true}, "
                         "model.alpha: {type: float, low: 0.25, high: 2.0, log: true}}",
                         "tune.n_trials=6", "tune.pruner=none", "evaluate.metric=loss"]
    reuters = retrain.preset_overrides(presets / "reuters.yaml", REPO / "params.yaml",
                                       ["data.path=/copies/reuters21578.tar.gz", "models.multihot_dense.hidden_units=[64]"])
    assert reuters[:4] == ["data.source=reuters", "data.path=/copies/reuters21578.tar.gz", "data.max_len=100",
                           "data.vocab_size=5000"]
    assert "~models" in reuters and reuters[-1] == "models.multihot_dense.hidden_units=[64]"


@pytest.mark.parametrize("text, message", [
    ("data.maxlen: 5\n", "key 'data.maxlen' is not in"),
    ("dta.max_len: 5\n", "has no section 'dta'"),
    ("data.max_len: 2\n", "data.max_len: input should be greater than or equal to 4, got 2"),
    ("- data.source\n", "expected a mapping of dotted params keys"),
])
def test_a_bad_preset_names_the_file_and_key(tmp_path, text, message):
    preset = tmp_path / "bad.yaml"
    preset.write_text(text)
    with pytest.raises(ParamsError) as err:
        retrain.preset_overrides(preset, REPO / "params.yaml")
    assert str(preset) in str(err.value) and message in str(err.value)


def test_an_unknown_preset_lists_the_known_ones():
    with pytest.raises(ParamsError, match=r"presets/nope.yaml: no such preset \(presets: imdb, reuters, tweets\)"):
        retrain.preset_overrides(REPO / "presets" / "nope.yaml", REPO / "params.yaml")
