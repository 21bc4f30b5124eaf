"""Malformed dataset files through the real prepare process: a clear error naming the file, or a
documented, counted handling in data/stats.json; never a traceback as the only message."""
import gzip
import json

import pytest

from tests.conftest import make_project, run, write_params

pytestmark = pytest.mark.slow
GOOD_ROWS = [f"review {i} {'great fun' if i % 2 else 'dull mess'} number {i},{i % 2}" for i in range(300)]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("malformed") / "project")


def prepare(project, name, content: bytes, **csv):
    path = project / name
    path.write_bytes(content)
    write_params(project / "params.yaml", data={"source": "csv", "path": str(path), **({"csv": csv} if csv else {})})
    return run(["python", "pipeline/prepare.py"], project)


ERRORS = {
    "zero bytes": ("z.csv", b"", "the file is empty"),
    "header only": ("h.csv", b"text,label\n", "header but no rows"),
    "truncated gzip": ("t.csv.gz", gzip.compress(("text,label\n" + "\n".join(GOOD_ROWS)).encode())[:-30],
                       "truncated or corrupt gzip"),
    "unbalanced quote": ("q.csv", b'text,label\n"open quote,1\nnext,0\n', "cannot parse as CSV"),
    "invalid utf-8": ("u.csv", ("text,label\n" + "\n".join(GOOD_ROWS)).encode() + b"\ncaf\xe9,1\n", "not valid utf-8"),
    "one class": ("o.csv", b"text,label\na b,1\nc d,1.0\ne f,1\n", "only one class"),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_malformed_file_is_one_clear_error(project, case):
    name, content, message = ERRORS[case]
    result = prepare(project, name, content)
    assert result.returncode == 1, result.stdout
    assert message in result.stderr and name in result.stderr and "Traceback" not in result.stderr
    assert "\nerror: " in "\n" + result.stderr  # one message (after MLflow's own log lines)


def test_split_missing_a_class_is_an_error(project):
    rows = [f"text {i},{i % 2},train" for i in range(200)] + [f"test {i},0,test" for i in range(20)]
    result = prepare(project, "s.csv", ("text,label,split\n" + "\n".join(rows) + "\n").encode(), split_column="split")
    assert result.returncode == 1 and "test split has no documents of class" in result.stderr


def test_documented_handling_is_counted(project):
    """BOM + CRLF, extra columns, labels spelled 1 / 1.0 / "1", NaN labels, empty texts, NUL bytes:
    handled and counted, not fatal."""
    rows = [f"review {i} {'great fun' if i % 2 else 'dull mess'},{['1', '1.0', 1][i % 3] if i % 2 else 0},x{i}"
            for i in range(300)]
    rows += [",1,empty", "no label here,,nan", "nul\x00byte text,1,nul"]
    content = b"\xef\xbb\xbf" + ("text,label,extra\r\n" + "\r\n".join(rows) + "\r\n").encode()
    result = prepare(project, "handled.csv", content)
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((project / "data" / "stats.json").read_text())
    spec = json.loads((project / "data" / "prepared" / "spec.json").read_text())
    assert spec["label_names"] == ["0", "1"]  # 1, 1.0 and "1" are one class
    assert metrics["dropped"] == {"nul_characters_removed": 1, "missing_label": 1, "empty_text": 1,
                                  "duplicate_text": 0, "train_test_overlap": 0}
    assert sum(metrics["size"].values()) == 301  # 303 rows - no label - empty; the NUL row kept
    import pandas as pd

    held_out = pd.concat([pd.read_parquet(project / "data" / "prepared" / f"{s}_texts.parquet")
                          for s in ("val", "test")])["text"]
    assert not held_out.str.contains("\x00", regex=False).any()
