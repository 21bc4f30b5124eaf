"""Ensembles are chosen on validation only; metrics match scikit-learn; registry promotion."""
import mlflow
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

from rnnops.tracking import registry
from rnnops.scoring.ensemble import Ensemble, greedy_selection, soft_vote
from rnnops.stages.evaluate import Member, candidates, choose
from rnnops.scoring.metrics import evaluation_metrics


def test_binary_metrics_on_fixed_arrays():
    y = np.array([0, 0, 1, 1])
    p1 = np.array([0.1, 0.6, 0.4, 0.9])
    m = evaluation_metrics(y, np.stack([1 - p1, p1], axis=1), ["neg", "pos"])
    assert m["accuracy"] == 0.5 and m["roc_auc"] == 0.75  # by hand: 3 of 4 pairs ranked right
    assert m["loss"] == pytest.approx(-np.mean(np.log([0.9, 0.4, 0.4, 0.9])))
    assert m["per_class"]["pos"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert m["confusion"] == [[1, 1], [1, 1]]


def test_multiclass_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 200)
    proba = rng.dirichlet(np.ones(4), 200)
    m = evaluation_metrics(y, proba, list("abcd"))
    assert m["accuracy"] == pytest.approx(accuracy_score(y, proba.argmax(1)))
    assert m["macro_f1"] == pytest.approx(f1_score(y, proba.argmax(1), average="macro"))
    assert m["loss"] == pytest.approx(log_loss(y, proba))
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"))
    assert sum(c["support"] for c in m["per_class"].values()) == 200


def _members(rng, y_val, y_test, quality):
    def noisy(y, q):  # right class with probability about q
        p = rng.dirichlet(np.ones(3), len(y))
        p[np.arange(len(y)), y] += q * 3
        return p / p.sum(axis=1, keepdims=True)
    return {name: Member(name, None, {"val": noisy(y_val, q), "test": noisy(y_test, q)}, {})
            for name, q in quality.items()}


def test_selection_uses_validation_only():
    rng = np.random.default_rng(1)
    y_val, y_test = rng.integers(0, 3, 300), rng.integers(0, 3, 300)
    members = _members(rng, y_val, y_test, {"a": 0.2, "b": 0.5, "c": 0.35})
    cands = candidates(members, y_val, "accuracy", 10)
    picked = choose(cands, members, y_val, "accuracy")
    for m in members.values():  # scramble everything about test
        m.proba["test"] = rng.permutation(m.proba["test"])
    again = candidates(members, y_val, "accuracy", 10)
    assert [(c.name, c.weights) for c in again] == [(c.name, c.weights) for c in cands]
    assert choose(again, members, y_val, "accuracy") == picked


def _text_members(tmp_path, prepared, names):
    """Real (untrained, differently seeded) raw-text models and the probabilities.npz / run.json
    the train stage would write for them, so `evaluate()` runs its real path end to end."""
    import json

    import keras

    from rnnops.data.batches import as_class_probabilities
    from rnnops.models.bodies import DatasetSpec, build_model
    from rnnops.models.text_model import text_model
    from rnnops.params.architectures import ARCHITECTURES

    spec = DatasetSpec.from_json(prepared.spec)
    for i, name in enumerate(names):
        keras.utils.set_random_seed(i)
        body = build_model("multihot_dense", ARCHITECTURES["multihot_dense"](hidden_units=[4]), spec)
        model = text_model(body, prepared.spec, prepared.vocabulary)
        folder = tmp_path / name
        folder.mkdir()
        model.save(folder / "text_model.keras")
        proba = {s: as_class_probabilities(model.predict(np.array(prepared.raw_texts(s)["text"], dtype=object),
                                                         verbose=0), 3) for s in ("val", "test")}
        np.savez(folder / "probabilities.npz", val=proba["val"], test=proba["test"],
                 y_val=prepared.arrays["val"][1], y_test=prepared.arrays["test"][1])
        (folder / "run.json").write_text(json.dumps({"run_id": name}))


def test_evaluate_never_looks_at_test_labels(tmp_path):
    """The real evaluate(): permuting the test labels changes test scores, never a choice."""
    import pandas as pd

    from rnnops.data.prepared import PreparedData
    from rnnops.params.load import load_params
    from rnnops.stages.evaluate import evaluate
    from tests.conftest import REPO

    rng = np.random.default_rng(3)
    words = ["good", "bad", "late", "great", "crew", "awful", "fine", "seat"]
    texts = {s: [" ".join(rng.choice(words, 5)) for _ in range(120)] for s in ("val", "test")}
    ys = {s: rng.integers(0, 3, 120).astype(np.int32) for s in ("val", "test")}
    spec = {"dataset": "demo", "vocab_size": len(words) + 2, "num_classes": 3, "max_len": 8,
            "label_names": ["negative", "neutral", "positive"], "truncation": "post", "padding": "post",
            "lowercase": True, "strip_html": True, "strip_punctuation": True}
    params = load_params(REPO / "params.yaml")
    names = ["m0", "m1", "m2"]
    choices, test_scores = [], []
    for y_test in (ys["test"], rng.permutation(ys["test"])):
        arrays = {"val": (None, ys["val"]), "test": (None, y_test)}
        frames = {s: pd.DataFrame({"text": texts[s], "label": y}) for s, y in (("val", ys["val"]), ("test", y_test))}
        prepared = PreparedData(spec, arrays, words, frames)
        folder = tmp_path / f"run{len(choices)}"
        folder.mkdir()
        _text_members(folder, prepared, names)
        result = evaluate(params, prepared, names, folder)
        choices.append((result.winner.name, result.winner.weights,
                        {n: (s["weights"], s["val"]) for n, s in result.scores.items()}))
        test_scores.append({n: s["test"]["accuracy"] for n, s in result.scores.items()})
    assert choices[0] == choices[1]
    assert test_scores[0] != test_scores[1]  # the permutation did reach the test scores


def test_greedy_selection_prefers_the_strong_member_and_weights_sum_to_one():
    rng = np.random.default_rng(2)
    y_val = rng.integers(0, 3, 400)
    members = _members(rng, y_val, y_val, {"weak": 0.05, "strong": 0.6, "medium": 0.3})
    ens = greedy_selection(y_val, {n: m.proba["val"] for n, m in members.items()}, "loss", 15)
    assert sum(ens.weights.values()) == pytest.approx(1.0)
    assert max(ens.weights, key=ens.weights.get) == "strong"
    assert soft_vote(["x", "y"]).weights == {"x": 0.5, "y": 0.5}
    combined = Ensemble("e", {"a": 0.25, "b": 0.75}).combine({"a": np.ones((2, 2)), "b": np.zeros((2, 2))})
    assert np.allclose(combined, 0.25)


def version_factory(client, name: str, tmp_path):
    """A function that registers a new (empty) version of `name` and returns its number."""
    def new_version():
        count = len(client.search_model_versions(f"name='{name}'"))
        source = tmp_path / f"model{count}"
        source.mkdir()
        return client.create_model_version(name, source.as_uri()).version
    return new_version


def test_registry_promotion_both_ways(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    client.create_registered_model("rnnops-demo")

    new_version = version_factory(client, "rnnops-demo", tmp_path)

    first = registry.promote("rnnops-demo", new_version(), "accuracy", 0.80, "split-1")
    assert first["alias"] == "champion" and first["reason"] == "no champion yet"
    worse = registry.promote("rnnops-demo", new_version(), "accuracy", 0.79, "split-1")
    assert worse["alias"] == "challenger" and worse["champion_value"] == 0.80
    better = registry.promote("rnnops-demo", new_version(), "accuracy", 0.85, "split-1")
    assert better["alias"] == "champion" and better["champion_version"] == first["version"]
    other_split = registry.promote("rnnops-demo", new_version(), "accuracy", 0.99, "split-2")
    assert other_split["alias"] == "challenger" and "another test split" in other_split["reason"]
    assert str(client.get_model_version_by_alias("rnnops-demo", "champion").version) == better["version"]
    assert str(client.get_model_version_by_alias("rnnops-demo", "challenger").version) == other_split["version"]
    assert "v3 -> @champion" in registry.describe(better) and "0.8000" in registry.describe(better)
    # a value that only differs below the tag's precision (6 decimals) is a tie, not a win
    tie = registry.promote("rnnops-demo", new_version(), "accuracy", 0.85 + 4e-7, "split-1")
    assert tie["alias"] == "challenger" and tie["reason"] == "does not beat the champion"
    champion = client.get_model_version_by_alias("rnnops-demo", "champion")
    assert str(champion.version) == better["version"] and champion.tags["test.accuracy"] == "0.850000"


def test_for_an_error_metric_the_lower_value_becomes_champion(tmp_path, monkeypatch):
    from rnnops.tracking import registry

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client.create_registered_model("rnnops-forecast-demo")

    new_version = version_factory(client, "rnnops-forecast-demo", tmp_path)

    first = registry.promote("rnnops-forecast-demo", new_version(), "mase", 0.30, "s", higher_is_better=False)
    higher = registry.promote("rnnops-forecast-demo", new_version(), "mase", 0.31, "s", higher_is_better=False)
    lower = registry.promote("rnnops-forecast-demo", new_version(), "mase", 0.29, "s", higher_is_better=False)
    assert (first["alias"], higher["alias"], lower["alias"]) == ("champion", "challenger", "champion")
    assert lower["champion_version"] == first["version"] and lower["reason"] == "beats the champion on the same test split"


def test_greedy_selection_over_forecasts_with_the_task_s_score():
    # Forecasts (not probabilities): the task passes minus its error; two members whose errors
    # cancel make a better ensemble than either alone.
    y = np.zeros((50, 3))
    high, low, noisy = y + 1.0, y - 1.0, y + np.random.default_rng(0).normal(0, 3, y.shape)
    ens = greedy_selection(y, {"high": high, "low": low, "noisy": noisy}, "mae", 10,
                           score_fn=lambda truth, pred: -float(np.abs(truth - pred).mean()))
    assert ens.weights == {"high": 0.5, "low": 0.5}
