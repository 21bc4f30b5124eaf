"""Regression sources: Keras' boston split reproduced, the embedded diabetes table, exact
train/val/test partitions, an IMDB-style text file, and every fixable problem in a user's CSV
reported as one DataError naming the file, the column, the line and the fix."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from rnnops.errors import DataError
from rnnops.tasks.regression.params import RegressionDataParams
from rnnops.tasks.regression.table import keras_split, load_table, split_rows

BOSTON = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "boston_housing.csv"
GOOD = "x1,x2,y\n" + "".join(f"{i},{i % 3},{i * 1.5}\n" for i in range(12))  # 12 rows, lines 2-13


def params(**kw) -> RegressionDataParams:
    return RegressionDataParams.model_validate({"split": "random", "val_fraction": 0.25, **kw})


def write(tmp_path, text: str, name: str = "houses.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def csv_error(tmp_path, text: str, *needles: str, **kw) -> str:
    path = write(tmp_path, text)
    with pytest.raises(DataError) as err:
        load_table(params(source="csv", path=str(path), target="y", **kw), seed=0)
    message = str(err.value)
    for needle in ("houses.csv", "Fix:", *needles):
        assert needle in message, message
    return message


@pytest.mark.shared_data
def test_keras_split_reproduces_boston_housing_load_data():
    if not BOSTON.exists():
        pytest.skip(f"{BOSTON} is absent: this test needs the real datasets in ../shared/data")
    data = params(source="boston", path=str(BOSTON), split="keras")
    table = load_table(data, seed=0)
    assert (table.name, table.target_name, table.origin) == ("boston", "MEDV", str(BOSTON))
    assert table.features.shape == (506, 13) and list(table.features.columns)[-1] == "LSTAT"
    train, test = keras_split(len(table.target))
    assert (len(train), len(test)) == (404, 102)
    x_train, y_train = table.features.to_numpy()[train], table.target[train]
    np.testing.assert_array_equal(x_train[0], [1.23247, 0, 8.14, 0, 0.538, 6.142, 91.7, 3.9769, 4, 307,
                                               21, 396.9, 18.72])
    assert y_train[0] == 15.2
    rows = split_rows(table, data, seed=0)
    np.testing.assert_array_equal(rows["test"], test)
    assert len(rows["val"]) == round(404 * 0.25) and len(rows["train"]) == 404 - 101
    # train and val keep Keras' shuffled order
    order = {r: i for i, r in enumerate(train)}
    for part in ("train", "val"):
        assert all(order[a] < order[b] for a, b in zip(rows[part], rows[part][1:]))


def test_diabetes_is_embedded_442_rows_10_features():
    table = load_table(params(source="diabetes", path=None), seed=0)
    assert table.name == "diabetes" and table.origin == "sklearn.datasets.load_diabetes"
    assert table.features.shape == (442, 10) and table.texts is None and table.given_split is None
    assert list(table.features.columns) == ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    assert (table.features.dtypes == np.float64).all() and table.target.dtype == np.float64
    assert table.target_name == "target" and table.target[:2].tolist() == [151.0, 75.0]
    assert len(table.sha256) == 64 and table.sha256 == load_table(params(source="diabetes"), seed=1).sha256


def test_split_rows_partitions_exactly_and_is_seeded():
    data = params(source="diabetes", test_fraction=0.2)
    table = load_table(data, seed=0)
    rows = split_rows(table, data, seed=7)
    sizes = {k: len(v) for k, v in rows.items()}
    assert sizes == {"test": 88, "val": 88, "train": 266}  # round(442*.2), round(354*.25)
    joined = np.concatenate(list(rows.values()))
    assert all(v.dtype == np.int64 for v in rows.values())
    assert len(np.unique(joined)) == len(joined) == 442 and set(joined) == set(range(442))
    again = split_rows(table, data, seed=7)
    assert all(np.array_equal(rows[k], again[k]) for k in rows)
    other = split_rows(table, data, seed=8)
    assert not np.array_equal(rows["test"], other["test"]) and not np.array_equal(rows["val"], other["val"])


def test_csv_features_default_to_every_other_column_in_file_order(tmp_path):
    path = tmp_path / "My Data.csv.gz"
    rows = "".join(f"{i},{i},{-i},train\n" for i in range(12))
    path.write_bytes(gzip.compress(f"a,y,b,split\n{rows}".encode()))
    table = load_table(params(source="csv", path=str(path), target="y"), seed=0)
    assert table.name == "my-data" and list(table.features.columns) == ["a", "b"]
    np.testing.assert_array_equal(table.features["b"], -np.arange(12.0))
    picked = load_table(params(source="csv", path=str(path), target="y", features=["b"]), seed=0)
    assert list(picked.features.columns) == ["b"]


def test_subsample_keeps_rows_in_file_order_and_split_proportions(tmp_path):
    rows = "".join(f"{'test' if i % 4 == 0 else 'train'},{i},{i % 7},text {i}\n" for i in range(100))
    path = write(tmp_path, "split,x,rating,text\n" + rows, name="reviews.csv")
    data = params(source="csv", path=str(path), target="rating", text_column="text", split="source",
                  subsample=40)
    table = load_table(data, seed=3)
    kept = [int(t.split()[1]) for t in table.texts]
    assert len(kept) == 40 and kept == sorted(kept)
    assert (table.given_split == "test").sum() == 10 and (table.given_split == "train").sum() == 30
    assert kept == [int(t.split()[1]) for t in load_table(data, seed=3).texts]


def test_imdb_style_csv_gives_texts_ratings_and_source_split(tmp_path):
    lines = ["split,label,rating,file,text"]
    for i in range(12):
        split, rating = (" Test" if i >= 8 else "train"), (1, 3, 8, 10)[i % 4]
        lines.append(f'{split},{int(rating > 5)},{rating},{split.strip().lower()}/{i}_{rating}.txt,'
                     f'"Review {i}, with a comma<br />and a tag."')
    path = write(tmp_path, "\n".join(lines) + "\n", name="imdb_reviews.csv")
    data = params(source="imdb", path=str(path), split="source", val_fraction=0.25)
    table = load_table(data, seed=0)
    assert table.name == "imdb-ratings" and table.target_name == "rating"
    assert table.features.shape == (12, 0) and table.texts.dtype == object
    assert table.texts[0] == "Review 0, with a comma<br />and a tag."
    assert table.target.tolist() == [1, 3, 8, 10] * 3 and table.target.dtype == np.float64
    assert table.given_split.tolist() == ["train"] * 8 + ["test"] * 4
    rows = split_rows(table, data, seed=0)
    assert rows["test"].tolist() == [8, 9, 10, 11] and len(rows["val"]) == 2 and len(rows["train"]) == 6


@pytest.mark.parametrize("text,needles", [
    (GOOD.replace("4,1,6.0", "4,1,abc"), ("column 'y'", "line 6", "'abc' is not a number")),
    (GOOD.replace("4,1,6.0", "4,1,"), ("column 'y'", "line 6", "empty")),
    (GOOD.replace("4,1,6.0", "4,1,NaN"), ("column 'y'", "line 6", "empty")),
    (GOOD.replace("4,1,6.0", "4,1,-inf"), ("column 'y'", "line 6", "infinite")),
    ("x1,y\n" + "".join(f"{i},2.5\n" for i in range(12)), ("column 'y'", "nothing to learn")),
    (GOOD.replace("7,1,10.5", "7,red,10.5"), ("column 'x2'", "line 9", "one-hot encode", "data.features")),
    (GOOD.replace("7,1,10.5", "7,,10.5"), ("column 'x2'", "line 9", "empty", "drop those rows")),
    (GOOD.replace("7,1,10.5", "7,inf,10.5"), ("column 'x2'", "line 9", "infinite")),
    ("x1,y\n1,2\n2,3\n3,4\n", ("3 row(s)", "at least 10")),
])
def test_bad_cells_name_file_column_line_and_fix(tmp_path, text, needles):
    csv_error(tmp_path, text, *needles)


def test_missing_columns_name_the_params_key(tmp_path):
    path = write(tmp_path, GOOD)
    for kw, needle in ((dict(target="price"), "data.target='price'"),
                       (dict(target="y", features=["x1", "zz"]), "data.features[1]='zz'"),
                       (dict(target="y", text_column="body"), "data.text_column='body'"),
                       (dict(target="y", split="source"), "no 'split' column")):
        with pytest.raises(DataError) as err:
            load_table(params(source="csv", path=str(path), **kw), seed=0)
        assert all(s in str(err.value) for s in ("houses.csv", needle, "Fix:")), str(err.value)


def test_empty_text_and_bad_split_labels(tmp_path):
    rows = "".join(f"{'train' if i < 9 else 'test'},{i},review {i}\n" for i in range(12))
    message = csv_error(tmp_path, "split,y,text\n" + rows.replace("review 5", "   "), "column 'text'",
                        "line 7", "empty", text_column="text")
    assert "1 empty in all" in message
    csv_error(tmp_path, "split,y,text\n" + rows.replace("train,3,", "val,3,"), "column 'split'",
              "line 5", "'val'", "train or test", text_column="text", split="source")


def test_split_rows_needs_two_rows_per_split(tmp_path):
    rows = "".join(f"{'test' if i == 0 else 'train'},{i},{i}\n" for i in range(12))
    data = params(source="csv", path=str(write(tmp_path, "split,x,y\n" + rows)), target="y", split="source")
    table = load_table(data, seed=0)
    assert list(table.features.columns) == ["x"]
    with pytest.raises(DataError, match=r"houses\.csv: the test split has 1 of 12 rows.*Fix:"):
        split_rows(table, data, seed=0)
