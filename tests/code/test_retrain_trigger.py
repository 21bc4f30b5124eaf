"""The retrain workflow's trigger rule (read from .github/workflows/retrain.yml): the bot's merged
pull request must not start another retraining run; a change a person makes must."""
import subprocess
import sys

import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import retrain_trigger  # noqa: E402

BOT_PR = ["dvc.lock", "metrics/evaluate.json", "metrics/ensembles/greedy.json", "metrics/train/lstm.json",
          "plots/train/lstm.csv", "plots/evaluate/roc.csv", "plots/data/lengths.csv"]


def test_the_bots_merged_pull_request_does_not_retrain():
    merge = "Merge pull request #7 from acme/retrain/123\n\nRetrain: new champion (run 123) [rnnops-retrain]"
    assert retrain_trigger.decide("main", BOT_PR, merge).startswith("skip: no changed file matches")
    # Even a squash-merge titled without the marker changes only unwatched paths.
    assert retrain_trigger.decide("main", BOT_PR, "Retrain results").startswith("skip: no changed file matches")


def test_the_bots_marker_skips_even_a_watched_path():
    decision = retrain_trigger.decide("main", ["params.yaml", "dvc.lock"], "Retrain: new champion [rnnops-retrain]")
    assert decision == "skip: the commit message carries [rnnops-retrain] (the bot's own commit)"


@pytest.mark.parametrize("changed", [["params.yaml"], ["dvc.yaml"], ["src/rnnops/stages/train.py"],
                                     ["pipeline/train.py"], ["presets/imdb.yaml"], ["data.dvc"],
                                     ["data/raw/tweets.csv.dvc"], ["README.md", "src/rnnops/cli.py"]])
def test_a_persons_change_to_what_the_pipeline_reads_retrains(changed):
    assert retrain_trigger.decide("main", changed, "Raise max_len") == "retrain"


@pytest.mark.parametrize("changed", [["README.md"], ["tests/code/test_atomic.py"], ["dvc.lock"],
                                     ["srcx/file.py"], ["metrics/evaluate.json"]])
def test_changes_outside_the_pipeline_do_not_retrain(changed):
    assert retrain_trigger.decide("main", changed, "docs").startswith("skip: no changed file matches")


def test_other_branches_do_not_retrain():
    assert retrain_trigger.decide("retrain/123", ["params.yaml"], "x").startswith("skip: branch retrain/123")


def test_globs_follow_github_semantics():
    rx = retrain_trigger.glob_regex
    assert rx("src/**").match("src/a/b/c.py") and not rx("src/**").match("srcs/a.py")
    assert rx("**/*.dvc").match("data.dvc") and rx("**/*.dvc").match("a/b/data.dvc")
    assert not rx("*.yaml").match("presets/imdb.yaml") and rx("*.yaml").match("params.yaml")


def test_the_command_line_prints_the_decision():
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "retrain_trigger.py"), *BOT_PR,
                          "--message", "x"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("skip: no changed file matches on.push.paths")
