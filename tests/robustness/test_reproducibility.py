"""Reproducibility of the whole pipeline: same seed -> same metrics files; no change -> no stage
runs; one model's params changed -> only that model and what depends on it run again."""
import json
import re

import pytest

from tests.conftest import run

pytestmark = pytest.mark.slow
TIMINGS = {"train_seconds", "samples_per_second", "wall_seconds"}  # measurements, not results


def metrics_files(project):
    return {str(p.relative_to(project)): p.read_bytes() for p in sorted((project / "metrics").rglob("*.json"))}


def facts_without_timings(project):
    """data/stats.json, tuning/study.json and each run.json's training facts, minus timings."""
    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in TIMINGS}
        return node
    facts = {name: json.loads((project / name).read_text()) for name in ("data/stats.json", "tuning/study.json")}
    facts.update({str(p.relative_to(project)): json.loads(p.read_text())["training"]
                  for p in sorted((project / "models").glob("*/run.json"))})
    return strip(facts)


def comparable_report(project):
    """report.md without its per-run columns (train s, samples/s, MLflow run)."""
    lines, drop = [], []
    for line in (project / "reports" / "report.md").read_text().splitlines():
        cells = line.split("|")
        if line.startswith("| model "):
            drop = [i for i, c in enumerate(cells) if c.strip() in ("train s", "samples/s", "MLflow run")]
        if not line.startswith("|"):
            drop = []
        lines.append("|".join(c for i, c in enumerate(cells) if i not in drop))
    return "\n".join(lines)


def stages_run(output):
    return sorted(re.findall(r"Running stage '([^']+)'", output))


def test_same_seed_gives_identical_metrics_files(two_runs):
    first, second = (metrics_files(p) for p in two_runs)
    assert set(first) == {"metrics/evaluate.json", "metrics/ensembles/greedy.json", "metrics/ensembles/soft_vote.json",
                          "metrics/train/lstm.json", "metrics/train/multihot_dense.json", "metrics/train/tuned.json"}
    assert first == second  # byte for byte: the metrics hold scores only, no timings
    first_facts, second_facts = (facts_without_timings(p) for p in two_runs)
    assert len(first_facts) == 5 and first_facts == second_facts
    # The reports differ only in the columns that hold timings and MLflow run ids.
    first_report, second_report = (comparable_report(p) for p in two_runs)
    assert first_report == second_report
    assert "| model " in first_report and "greedy" in first_report
    for figure in ("comparison.png", "confusion_matrix.png", "roc.png"):
        assert (two_runs[0] / "reports" / "figures" / figure).read_bytes() == \
            (two_runs[1] / "reports" / "figures" / figure).read_bytes(), figure


def test_nothing_changed_runs_no_stage(two_runs):
    result = run(["dvc", "repro"], two_runs[0])
    assert result.returncode == 0 and stages_run(result.stdout) == []


def test_one_model_changed_reruns_only_it_and_downstream(two_runs):
    project = two_runs[0]
    text = (project / "params.yaml").read_text()
    (project / "params.yaml").write_text(text.replace("units: 8", "units: 12", 1))
    result = run(["dvc", "repro"], project, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    assert stages_run(result.stdout) == ["evaluate", "report", "train@lstm"]
