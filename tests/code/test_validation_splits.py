"""Validation rules (drop and count, or reject) and deterministic stratified splits."""
import pandas as pd
import pytest

from rnnops.errors import DataError
from rnnops.data.sources.labels import to_frame
from rnnops.data.splits import make_splits, subsample
from rnnops.data.validation import check_classes, clean


def frame(rows, split=True):
    texts, labels, splits = zip(*rows)
    return to_frame(list(texts), list(labels), list(splits) if split else None)


def test_clean_drops_and_counts_everything():
    rows = [("good", "pos", "train"), ("good", "pos", "train"), ("  ", "neg", "train"),
            ("", "neg", "train"), ("no label", None, "train"), ("leak", "neg", "train"),
            ("leak", "neg", "test"), ("bad", "neg", "train"), ("nul\x00byte", "pos", "test"),
            ("fine", "pos", "test"), ("awful", "neg", "test")]
    cleaned, dropped = clean(frame(rows), "f.csv")
    assert dropped == {"nul_characters_removed": 1, "missing_label": 1, "empty_text": 2,
                       "duplicate_text": 1, "train_test_overlap": 1}
    assert sorted(cleaned[cleaned.split == "train"].text) == ["bad", "good"]
    assert "leak" in set(cleaned[cleaned.split == "test"].text)  # the test split stays as given
    assert "nulbyte" in set(cleaned.text)


def test_single_class_is_rejected():
    with pytest.raises(DataError, match="only one class \\('pos'\\)"):
        clean(frame([("a", "pos", None), ("b", "pos", None)], split=False), "f.csv")


def test_split_missing_a_class_is_rejected():
    parts = {"train": frame([("a", "pos", "train"), ("b", "neg", "train")]),
             "test": frame([("c", "pos", "test")])}
    with pytest.raises(DataError, match="the test split has no documents of class\\(es\\) \\['neg'\\]"):
        check_classes(parts, ["neg", "pos"], "f.csv")


def balanced(n=1000):
    return to_frame([f"text {i}" for i in range(n)], ["a" if i % 4 else "b" for i in range(n)], None)


def test_splits_are_deterministic_stratified_and_disjoint():
    first = make_splits(balanced(), 0.1, 0.2, seed=7)
    again = make_splits(balanced(), 0.1, 0.2, seed=7)
    other = make_splits(balanced(), 0.1, 0.2, seed=8)
    for name in ("train", "val", "test"):
        pd.testing.assert_frame_equal(first[name], again[name])
        assert first[name]["label"].value_counts(normalize=True)["b"] == pytest.approx(0.25, abs=0.01)
    assert first["test"]["text"].tolist() != other["test"]["text"].tolist()
    assert [len(first[s]) for s in ("train", "val", "test")] == [720, 80, 200]
    texts = [set(first[s]["text"]) for s in ("train", "val", "test")]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])


def test_given_split_is_honoured_and_val_comes_from_train():
    data = balanced(400)
    data["split"] = ["test" if i < 100 else "train" for i in range(400)]
    parts = make_splits(data, 0.25, 0.2, seed=1)
    assert set(parts["test"]["text"]) == {f"text {i}" for i in range(100)}
    assert len(parts["val"]) == 75 and len(parts["train"]) == 225
    assert not set(parts["val"]["text"]) & set(parts["test"]["text"])


def test_single_document_class_cannot_be_stratified():
    data = to_frame(["x", "y", "z", "w"], ["a", "a", "a", "b"], None)
    with pytest.raises(DataError, match="\\['b'\\] have a single training document"):
        make_splits(data, 0.1, 0.2, seed=1)


def test_subsample_is_stratified_and_seeded():
    data = balanced(2000)
    small = subsample(data, 400, seed=3)
    assert len(small) == 400 and small.equals(subsample(data, 400, seed=3))
    assert (small["label"] == "b").mean() == pytest.approx(0.25, abs=0.01)
    assert subsample(data, None, seed=3) is data


def grouped(sizes: dict[tuple[str, str], int]) -> pd.DataFrame:
    """A frame with `sizes[(split, label)]` rows per group, the groups interleaved."""
    keys = [key for key, n in sizes.items() for _ in range(n)]
    keys = keys[::2] + keys[1::2]
    return to_frame([f"text {i}" for i in range(len(keys))], [label for _, label in keys],
                    [split for split, _ in keys])


@pytest.mark.parametrize("sizes", [
    {("train", "a"): 1001, ("train", "b"): 999, ("test", "a"): 1001, ("test", "b"): 1000},
    {("train", "a"): 700, ("train", "b"): 211, ("train", "c"): 89, ("val", "a"): 70,
     ("val", "b"): 21, ("val", "c"): 9, ("test", "a"): 333, ("test", "b"): 100, ("test", "c"): 3},
    {("train", "x"): 37, ("train", "y"): 5000, ("test", "x"): 11, ("test", "y"): 1234},
])
@pytest.mark.parametrize("limit", [100, 101, 1000, 2000, 3333])
def test_subsample_keeps_exactly_limit_rows_within_one_of_each_groups_share(sizes, limit):
    # groupby().sample(frac=...) rounded per group: 2000 of the tweets gave 2001 documents.
    data = grouped(sizes)
    small = subsample(data, limit, seed=5)
    assert len(small) == min(limit, len(data))
    counts = small.groupby(["split", "label"]).size().to_dict()
    for key, size in sizes.items():
        share = size * min(limit, len(data)) / len(data)
        assert abs(counts.get(key, 0) - share) < 1, (key, counts.get(key, 0), share)
    assert small.index.is_monotonic_increasing and set(small.index) <= set(data.index)
    pd.testing.assert_frame_equal(small, subsample(grouped(sizes), limit, seed=5))
    if limit < len(data):
        assert small.index.tolist() != subsample(data, limit, seed=6).index.tolist()


@pytest.mark.parametrize("sizes, limit", [
    ({"negative": 22_987, "neutral": 8_455, "positive": 6_716}, 2000),   # tweets-like classes
    ({"a": 1001, "b": 1000}, 2000), ({"a": 7, "b": 5_003, "c": 990}, 999), ({"a": 75, "b": 75}, 100),
])
def test_subsample_without_a_given_split_is_exact_and_stratified_by_label(sizes, limit):
    labels = [label for label, n in sizes.items() for _ in range(n)]
    data = to_frame([f"text {i}" for i in range(len(labels))], labels, None)
    small = subsample(data, limit, seed=3)
    assert len(small) == limit
    counts = small["label"].value_counts().to_dict()
    for label, size in sizes.items():
        assert abs(counts.get(label, 0) - size * limit / len(data)) < 1
    assert small.equals(subsample(data.copy(), limit, seed=3))


def test_subsample_of_fewer_rows_than_the_limit_keeps_them_all():
    data = balanced(300)
    assert subsample(data, 300, seed=1) is data and subsample(data, 5000, seed=1) is data
