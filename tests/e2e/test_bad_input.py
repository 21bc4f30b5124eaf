"""Bad input to the prepare stage: one clear message, non-zero exit, earlier outputs untouched,
nothing half-written, and no FINISHED MLflow run."""
import gzip
import hashlib

import pytest
import yaml

from tests.conftest import make_project, mlflow_runs, run, write_params

pytestmark = pytest.mark.slow
OUTPUTS = ("data", "metrics", "plots")


def good_csv(path):
    rows = [f"review {i} {'great fun' if i % 2 else 'dull mess'} number {i},{i % 2}" for i in range(300)]
    path.write_text("text,label\n" + "\n".join(rows) + "\n")
    return path


def tree_digest(project):
    """Every file under the output folders (temporary leftovers included) with its hash."""
    return {str(p.relative_to(project)): hashlib.sha256(p.read_bytes()).hexdigest()
            for name in OUTPUTS for p in sorted((project / name).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("bad") / "project")
    csv = good_csv(project / "reviews.csv")
    write_params(project / "params.yaml", data={"source": "csv", "path": str(csv)})
    result = run(["python", "pipeline/prepare.py"], project)
    assert result.returncode == 0, result.stderr
    return project


def params_with(project, mutate):
    raw = yaml.safe_load((project / "params.yaml").read_text())
    mutate(raw)
    path = project / "bad-params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def data_file(project, name, content: bytes):
    path = project / name
    path.write_bytes(content)
    return lambda raw: raw["data"].update(path=str(path))


CASES = {
    "missing key": (lambda p: lambda raw: raw["data"].pop("max_len"), 2, "data.max_len: missing"),
    "unknown key": (lambda p: lambda raw: raw["data"].update(max_lenght=5), 2,
                    "data.max_lenght"),
    "wrong type": (lambda p: lambda raw: raw["data"].update(vocab_size="big"), 2,
                   "data.vocab_size"),
    "out of range": (lambda p: lambda raw: raw["data"].update(val_fraction=0.9), 2,
                     "data.val_fraction"),
    "unknown source": (lambda p: lambda raw: raw["data"].update(source="yelp"), 2, "data.source"),
    "path does not exist": (lambda p: lambda raw: raw["data"].update(path=str(p / "gone.csv")), 1,
                            "data.path"),
    "missing columns": (lambda p: data_file(p, "cols.csv", b"body,y\nhello,1\nbye,0\n"), 1,
                        "data.csv.text_column='text'"),
    "empty file": (lambda p: data_file(p, "empty.csv", b""), 1, "empty.csv: the file is empty"),
    "header only": (lambda p: data_file(p, "header.csv", b"text,label\n"), 1, "header but no rows"),
    "single class": (lambda p: data_file(p, "one.csv", b"text,label\na b,1\nc d,1\ne f,1\n"), 1,
                     "only one class"),
    "undecodable bytes": (lambda p: data_file(p, "latin.csv", b"text,label\nok,1\ncaf\xe9,0\n"), 1,
                          "latin.csv: line 3, byte"),
    "truncated gzip": (lambda p: data_file(p, "cut.csv.gz", gzip.compress(b"text,label\n" + b"x y,1\n" * 999)[:-40]), 1,
                       "cut.csv.gz: truncated or corrupt gzip"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_rejected_cleanly(prepared, case):
    make_mutation, code, message = CASES[case]
    before, runs_before = tree_digest(prepared), mlflow_runs(prepared)
    bad = params_with(prepared, make_mutation(prepared))
    result = run(["python", "pipeline/prepare.py", "--params", str(bad)], prepared)
    assert result.returncode == code, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("error:") == 1
    assert tree_digest(prepared) == before  # untouched, and no temporary leftovers
    new = [r for r in mlflow_runs(prepared) if r.info.run_id not in {o.info.run_id for o in runs_before}]
    if code == 2:
        assert new == []  # params are checked before any run starts
    else:
        assert [r.info.status for r in new] == ["FAILED"]


def test_failed_dvc_repro_keeps_dvc_lock(project):
    write_params(project / "params.yaml", data={"subsample": 1000})
    first = run(["dvc", "repro", "prepare"], project)
    assert first.returncode == 0, first.stderr
    lock = (project / "dvc.lock").read_text()
    raw = yaml.safe_load((project / "params.yaml").read_text())
    raw["data"]["max_len"] = 1
    (project / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    failed = run(["dvc", "repro", "prepare"], project)
    assert failed.returncode != 0
    assert "data.max_len" in failed.stderr + failed.stdout
    assert (project / "dvc.lock").read_text() == lock
    # DVC removes a stage's outputs before running it; the previous ones are in its cache.
    restored = run(["dvc", "checkout", "prepare"], project)
    assert restored.returncode == 0 and (project / "data" / "prepared" / "spec.json").exists()
