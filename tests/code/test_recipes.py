"""Recipes (recipes/*.yaml): every shipped recipe validates against its task's params, overrides
follow DVC's -S grammar (set, merge a mapping, + for a new key), bad recipes name file and fix."""
import pytest

from rnnops import recipes
from rnnops.errors import ParamsError
from rnnops.params.overrides import merged
from tests.conftest import REPO, SHARED

PUBLISHED = {"imdb-simplernn": 0.8196, "imdb-lstm": 0.8666, "imdb-simplernn-small": 0.8114, "imdb-dense": 0.8924,
             "reuters-gru": 0.6821, "reuters-dense": 0.803, "boston-kfold": 2.64, "imdb-onehot-rnn": None,
             "proverbs-charlstm": None, "sine-forecast": None, "dates-seq2seq": None}


def test_every_recipe_of_the_issue_ships_with_its_published_figure():
    assert recipes.names(REPO) == sorted(PUBLISHED)
    for name, figure in PUBLISHED.items():
        recipe = recipes.load(name, REPO)
        assert recipe.published == figure, name
        for stage in recipe.stages:  # each stage's metrics file is where the figure is read
            assert recipe.metrics_path(stage).endswith(f"metrics/train/{stage.split('@')[1]}.json")


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_every_recipe_and_variant_validates_against_its_params(name):
    recipe = recipes.load(name, REPO)
    data_dir = str(SHARED) if recipe.data_file and SHARED.exists() else None
    sets = recipes.overrides(recipe, REPO, data_dir)
    prefix = "" if recipe.params_file == "params.yaml" else f"{recipe.params_file}:"
    assert all(s.startswith(prefix) for s in sets)
    for key in recipe.params:  # each key set whole, or key by key (+ for keys the file lacks)
        assert any(s[len(prefix):].lstrip("+").startswith((f"{key}=", f"{key}.")) for s in sets), key
    if recipe.variant:
        assert len(recipes.overrides(recipe, REPO, data_dir, variant=True)) >= len(sets)


def test_overrides_set_merge_and_add_keys(tmp_path):
    (tmp_path / "recipes").mkdir()
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "recipes" / "mine.yaml").write_text(
        "pipeline: dvc.yaml\nparams_file: params.yaml\nstages: [train@gru]\nfigure: test.accuracy\n"
        "params:\n  data.max_len: 64\n  models.gru: {units: 8}\n  models.lstm: {units: 8, one_hot: true}\n  models.wide: {architecture: gru, units: 128}\n"
        "  train.early_stopping: null\n")
    sets = recipes.overrides(recipes.load("mine", tmp_path), tmp_path)
    assert sets == ["data.max_len=64", "models.gru={units: 8}", "models.lstm.units=8", "+models.lstm.one_hot=true",
                    "+models.wide={architecture: gru, units: 128}",
                    "train.early_stopping=null"]
    assert merged({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": 5}}) == {"a": 1, "b": {"c": 5, "d": 3}}


@pytest.mark.parametrize("body, message", [
    ("pipeline: dvc.yaml\nparams_file: params.yaml\nstages: [x]\nfigure: f\nparams: {}\nepochs: 3\n",
     r"unknown key\(s\) \['epochs'\]"),
    ("pipeline: nope/dvc.yaml\nparams_file: params.yaml\nstages: [x]\nfigure: f\nparams: {}\n",
     "pipeline nope/dvc.yaml does not exist"),
    ("pipeline: dvc.yaml\nparams_file: params.yaml\nstages: [x]\nparams: {}\n", r"missing key\(s\) \['figure'\]"),
    ("pipeline: dvc.yaml\nparams_file: params.yaml\nstages: [x]\nfigure: f\nparams: {data.max_len: 2}\n",
     r"recipes/bad.yaml applied to .*params.yaml: 1 problem\(s\), nothing was run:\n  - data.max_len: input should be greater than or equal to 4"),
    ("pipeline: dvc.yaml\nparams_file: params.yaml\nstages: [x]\nfigure: f\nparams: {data.max_len.x: 2}\n",
     "key 'data.max_len.x': 'max_len' is not a section"),
])
def test_bad_recipes_name_the_file_and_the_fix(tmp_path, body, message):
    (tmp_path / "recipes").mkdir()
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "recipes" / "bad.yaml").write_text(body)
    with pytest.raises(ParamsError, match=message):
        recipes.overrides(recipes.load("bad", tmp_path), tmp_path)


def test_an_unknown_recipe_lists_the_known_ones():
    with pytest.raises(ParamsError, match=r"no such recipe \(recipes: boston-kfold, dates-seq2seq, "):
        recipes.load("imdb-gpt", REPO)
