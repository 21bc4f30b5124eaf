"""`dvc repro prepare` in a temporary copy of the repository: outputs, caching, experiments, MLflow."""
import json

import numpy as np
import pytest

from tests.conftest import mlflow_runs, run, write_params

pytestmark = pytest.mark.slow


def test_dvc_repro_prepare_end_to_end(project):
    write_params(project / "params.yaml", data={"subsample": 3000})
    run(["git", "commit", "-qam", "small slice"], project)
    first = run(["dvc", "repro", "prepare"], project)
    assert first.returncode == 0, first.stdout + first.stderr

    out = project / "data" / "prepared"
    spec = json.loads((out / "spec.json").read_text())
    assert spec["num_classes"] == 3 and spec["label_names"] == ["negative", "neutral", "positive"]
    assert spec["max_len"] == 40 and spec["vocab_size"] <= 20000
    sizes = {}
    for split in ("train", "val", "test"):
        with np.load(out / f"{split}.npz", allow_pickle=False) as npz:
            x, y = npz["x"], npz["y"]
        assert x.shape[1] == 40 and x.dtype == np.int32 and len(x) == len(y)
        assert x.max() < spec["vocab_size"] and set(np.unique(y)) == {0, 1, 2}
        sizes[split] = len(x)
    vocab = (out / "vocab.txt").read_text().split("\n")[:-1]
    assert len(vocab) == spec["vocab_size"] - 2 and "" not in vocab
    stats = json.loads((project / "data" / "stats.json").read_text())
    assert stats["size"] == sizes and sum(sizes.values()) <= 3000
    assert set(stats["length_tokens"]) == {"p50", "p90", "p95", "p99", "mean", "max"}
    assert (project / "plots" / "data" / "lengths.csv").read_text().startswith("tokens,documents")
    lock = (project / "dvc.lock").read_text()
    assert "data/prepared" in lock and "data/stats.json" in lock
    # Facts about the data are no DVC metric: `dvc metrics show` stays a table of model scores.
    assert "metrics:" not in lock.split("prepare:")[1].split("\n  ")[0]

    runs = mlflow_runs(project)
    assert len(runs) == 1
    mlrun = runs[0]
    assert mlrun.info.status == "FINISHED" and mlrun.info.run_name == "prepare"
    assert mlrun.data.tags["dvc.stage"] == "prepare"
    assert mlrun.data.tags["data.sha256"] == spec["source_sha256"]
    assert len(mlrun.data.tags["git.commit"]) == 40
    assert mlrun.data.params["data.subsample"] == "3000"
    assert mlrun.data.metrics["size.train"] == sizes["train"]
    artifacts = {p.name for p in (project / "mlruns" / "artifacts").rglob("*") if p.is_file()}
    assert {"vocab.txt", "spec.json", "lengths.png", "class_balance.png", "stats.json"} <= artifacts

    again = run(["dvc", "repro", "prepare"], project)
    assert again.returncode == 0 and "didn't change" in again.stdout, again.stdout
    assert len(mlflow_runs(project)) == 1  # nothing ran

    exp = run(["dvc", "exp", "run", "prepare", "-S", "data.max_len=20", "-n", "short"], project)
    assert exp.returncode == 0, exp.stdout + exp.stderr
    assert json.loads((out / "spec.json").read_text())["max_len"] == 20
    tagged = [r for r in mlflow_runs(project) if r.data.tags.get("dvc.exp_name") == "short"]
    assert len(tagged) == 1 and tagged[0].info.status == "FINISHED"
