"""Source parsers on small files the tests write: CSV/TSV/Parquet, IMDB layouts, Reuters SGML."""
import gzip
import io
import tarfile

import pandas as pd
import pytest

from rnnops.params.schema import DataParams
from rnnops.errors import DataError
from rnnops.data.sources import dataset_name, load_source, reuters
from rnnops.data.sources.labels import normalize_labels
from tests.conftest import default_params


def data_params(**overrides) -> DataParams:
    data = {**default_params()["data"], **overrides}
    if "csv" in overrides:
        data["csv"] = {**default_params()["data"]["csv"], **overrides["csv"]}
    return DataParams.model_validate(data)


def write_csv(path, rows, header="text,label", newline="\n", encoding="utf-8", bom=False):
    body = newline.join([header, *rows]) + newline
    data = body.encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def test_csv_with_string_labels_keeps_names(tmp_path):
    path = write_csv(tmp_path / "reviews.csv", ["good film,pos", "\"bad, awful film\",neg", "meh,neu"])
    raw = load_source(data_params(source="csv", path=str(path)))
    assert raw.label_names == ["neg", "neu", "pos"]
    assert raw.frame["text"].tolist()[1] == "bad, awful film"
    assert raw.name == "csv-reviews" == dataset_name(data_params(source="csv", path=str(path)))
    assert raw.frame["split"].isna().all()


def test_tsv_gzip_bom_crlf_and_custom_columns(tmp_path):
    path = write_csv(tmp_path / "d.tsv.gz", ["hello there\t1", "bye now\t0"], header="body\ty",
                     newline="\r\n", bom=True)
    raw = load_source(data_params(source="csv", path=str(path),
                                  csv={"text_column": "body", "label_column": "y"}))
    assert raw.frame["text"].tolist() == ["hello there", "bye now"]
    assert raw.label_names == ["0", "1"]


def test_parquet_with_split_column(tmp_path):
    path = tmp_path / "d.parquet"
    pd.DataFrame({"t": ["a b", "c d", "e f"], "l": [1, 0, 1], "s": ["train", "Test", "validation"]}) \
        .to_parquet(path)
    raw = load_source(data_params(source="csv", path=str(path),
                                  csv={"text_column": "t", "label_column": "l", "split_column": "s"}))
    assert raw.frame["split"].tolist() == ["train", "test", "val"]
    assert raw.frame["label"].tolist() == ["1", "0", "1"]


def test_numeric_labels_are_one_class_whatever_their_spelling():
    labels, names = normalize_labels(pd.Series(["1", 1, "1.0", " 0 ", None, float("nan"), ""]))
    assert labels.tolist()[:4] == ["1", "1", "1", "0"] and labels[4:].isna().all()
    assert names == ["0", "1"]
    _, names = normalize_labels(pd.Series(["10", "9", "2"]))
    assert names == ["2", "9", "10"]  # numeric order, not string order


@pytest.mark.parametrize("content, message", [
    (b"", "empty (0 bytes)"),
    (b"text,label\n", "header but no rows"),
    (b"words,label\nhi,1\n", "data.csv.text_column='text'"),
    (b"text,label\nfine,1\ncaf\xe9 au lait,0\n", "line 3, byte 21: bytes e9 are not valid utf-8"),
    (gzip.compress(b"text,label\n" + b"some text,1\n" * 500)[:-30], "truncated or corrupt gzip"),
    (b"text,label\n\"open quote,1\nnext,0\n", "cannot parse as CSV"),
])
def test_bad_files_get_one_clear_error(tmp_path, content, message):
    path = tmp_path / ("bad.csv.gz" if content[:2] == b"\x1f\x8b" else "bad.csv")
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        load_source(data_params(source="csv", path=str(path)))
    assert message in str(info.value) and str(path) in str(info.value)


def test_missing_path_names_the_key(tmp_path):
    with pytest.raises(DataError, match="data.path: .*does not exist"):
        load_source(data_params(source="imdb", path=str(tmp_path / "nowhere.tar.gz")))


def test_missing_csv_path_says_to_point_data_path_at_the_file(tmp_path):
    # csv has no built-in corpus and no download: its message must not suggest null.
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(DataError) as info:
        load_source(data_params(source="csv", path=str(missing)))
    assert str(info.value) == (f"data.path: {missing} does not exist. Fix: point data.path at your "
                               "CSV/TSV/Parquet file (an absolute path, or one relative to the "
                               "project root).")
    with pytest.raises(DataError) as info:
        load_source(data_params(source="imdb", path=str(tmp_path / "nowhere.tar.gz")))
    assert str(info.value).endswith("or set it to null to use the built-in/download.")


def test_relative_path_is_relative_to_the_project_root(tmp_path, monkeypatch):
    # `dvc exp run --temp` runs stages in a copy under .dvc/tmp/exps with DVC_ROOT set to the
    # project: a relative data.path must still name the file beside the project's params.yaml.
    (tmp_path / "project").mkdir()
    write_csv(tmp_path / "project" / "d.csv", [f"film {i},{i % 2}" for i in range(10)])
    (tmp_path / "copy").mkdir()
    monkeypatch.chdir(tmp_path / "copy")
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "project"))
    frame = load_source(data_params(source="csv", path="d.csv")).frame
    assert len(frame) == 10


def test_bad_split_value_names_the_line(tmp_path):
    path = write_csv(tmp_path / "d.csv", ["a,1,train", "b,0,holdout"], header="text,label,split")
    with pytest.raises(DataError, match="line 3: split value 'holdout'"):
        load_source(data_params(source="csv", path=str(path), csv={"split_column": "split"}))


def _imdb_files():
    return {"aclImdb/train/pos/0_9.txt": "Great<br />film", "aclImdb/train/neg/1_2.txt": "Awful",
            "aclImdb/test/pos/3_8.txt": "Loved it", "aclImdb/test/neg/0_1.txt": "Hated it",
            "aclImdb/train/unsup/5_0.txt": "no label", "aclImdb/README": "readme"}


def test_imdb_from_tarball_folder_and_csv_agree(tmp_path):
    tar_path = tmp_path / "aclImdb_v1.tar.gz"
    with tarfile.open(tar_path, "w:gz") as archive:
        for name, text in _imdb_files().items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    for name, text in _imdb_files().items():
        (tmp_path / "tree" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "tree" / name).write_text(text)
    csv_path = write_csv(tmp_path / "imdb.csv", ["train,1,Great<br />film", "train,0,Awful",
                                                 "test,1,Loved it", "test,0,Hated it"],
                         header="split,label,text")
    frames = [load_source(data_params(source="imdb", path=str(p))).frame
              for p in (tar_path, tmp_path / "tree", tmp_path / "tree" / "aclImdb", csv_path)]
    key = lambda f: sorted(zip(f["split"], f["label"], f["text"]))  # noqa: E731
    assert key(frames[0]) == key(frames[1]) == key(frames[2]) == key(frames[3])
    assert len(frames[0]) == 4 and set(frames[0]["label"]) == {"neg", "pos"}


def test_imdb_truncated_tarball_is_a_clear_error(tmp_path):
    path = tmp_path / "aclImdb_v1.tar.gz"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for i in range(200):
            data = f"review number {i} ".encode() * 50
            info = tarfile.TarInfo(f"aclImdb/train/pos/{i}_9.txt")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(DataError, match="truncated or corrupt archive"):
        load_source(data_params(source="imdb", path=str(path)))


SGML = """<!DOCTYPE lewis SYSTEM "lewis.dtd">
<REUTERS TOPICS="YES" LEWISSPLIT="TRAIN" CGISPLIT="TRAINING-SET" OLDID="5544" NEWID="1">
<DATE>26-FEB-1987</DATE><TOPICS><D>cocoa</D></TOPICS><PLACES><D>el-salvador</D></PLACES>
<TEXT>&#2;<TITLE>BAHIA COCOA REVIEW</TITLE><BODY>Showers continued &lt;in&gt; Bahia.\x85
 Reuter&#3;</BODY></TEXT></REUTERS>
<REUTERS TOPICS="YES" LEWISSPLIT="TEST" CGISPLIT="TRAINING-SET" OLDID="1" NEWID="2">
<TOPICS><D>grain</D><D>wheat</D></TOPICS><TEXT><TITLE>TWO TOPICS</TITLE><BODY>x</BODY></TEXT></REUTERS>
<REUTERS TOPICS="NO" LEWISSPLIT="NOT-USED" CGISPLIT="TRAINING-SET" OLDID="2" NEWID="3">
<TOPICS></TOPICS><TEXT><TITLE>NONE</TITLE></TEXT></REUTERS>
"""


def test_reuters_sgml_parser():
    stories = reuters.parse_sgm(SGML)
    assert [s["split"] for s in stories] == ["train", "test", None]
    assert [s["topics"] for s in stories] == [["cocoa"], ["grain", "wheat"], []]
    assert stories[0]["text"].startswith("BAHIA COCOA REVIEW\nShowers continued <in> Bahia.")


def test_reuters_incomplete_archive_is_rejected(tmp_path):
    (tmp_path / "reut2-000.sgm").write_bytes(SGML.encode("latin-1"))
    with pytest.raises(DataError, match="found 3 stories in 1 reut2-\\*.sgm files, expected 21,578"):
        load_source(data_params(source="reuters", path=str(tmp_path)))
