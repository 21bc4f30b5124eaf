"""All-or-nothing outputs: a failure leaves the previous outputs byte for byte."""
import pytest

from rnnops.atomic import staged_outputs, write_text


def test_outputs_replace_previous_ones_on_success(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("old")
    with staged_outputs(tmp_path / "out", tmp_path / "m.json") as (out, metrics):
        out.mkdir()
        (out / "new.txt").write_text("new")
        metrics.write_text("{}")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["new.txt"]
    assert (tmp_path / "m.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "out"]  # no temp left


def test_failure_leaves_previous_outputs_and_no_temp(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("old")
    (tmp_path / "m.json").write_text("previous")
    with pytest.raises(RuntimeError):
        with staged_outputs(tmp_path / "out", tmp_path / "m.json") as (out, metrics):
            out.mkdir()
            (out / "half.txt").write_text("half")
            raise RuntimeError("boom")
    assert (tmp_path / "out" / "old.txt").read_text() == "old"
    assert (tmp_path / "m.json").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "out"]


def test_an_output_not_written_is_an_error_and_commits_nothing(tmp_path):
    with pytest.raises(FileNotFoundError, match="did not write"):
        with staged_outputs(tmp_path / "a.json", tmp_path / "b.json") as (a, b):
            a.write_text("1")
    assert list(tmp_path.iterdir()) == []


def test_write_text_is_atomic_replace(tmp_path):
    write_text(tmp_path / "x" / "f.txt", "one")
    write_text(tmp_path / "x" / "f.txt", "two")
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["f.txt"]
    assert (tmp_path / "x" / "f.txt").read_text() == "two"
