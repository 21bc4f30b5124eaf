"""The CI retraining job as CI runs it: four successive jobs, each in its own fresh clone of
"GitHub" (a local git repo), with a real local DVC remote, (a) against a real `mlflow server` and
(b) with no server. The bot's pull request is merged between jobs as a person would. Also the
workflow files under actionlint.

The two scenarios share the DVC remote, as two teams' CI would share a bucket, and (b)'s clones
start with what (a)'s clones left in their DVC caches, as a CI cache of .dvc/cache would give
them: DVC's run cache then restores the stages (a) ran with the same params and code, so (b) runs
no stage and costs little, while its decisions are made from its own clones' files only. (The
remote alone could not restore them: `dvc pull --run-cache` fetches the run-cache entries but only
the outputs dvc.lock names, and `cache: false` outputs such as the metrics are never pushed. A
stage (b) cannot restore it runs, as it would with (b) alone.) (a)'s clones start empty: its job 2
shows the remote alone restores an unchanged pipeline."""
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from tests.conftest import BIN, REPO, env_for, free_port, run, wait_for_http
from tests.robustness.conftest import small_project

sys.path.insert(0, str(REPO / "scripts"))
import retrain_trigger  # noqa: E402

pytestmark = pytest.mark.slow

# One small model and a one-trial study keep a job near a minute on 2 cores. A stage's time is
# mostly TensorFlow's start-up, so what costs is how many stages run: jobs 3 and 4 change only
# multihot_dense, so they run train@multihot_dense, evaluate and report (tune and train_tuned stay
# main's, which the job pulled). The study's model is kept weak (2-dimensional embeddings) so the
# winner follows multihot_dense: job 3 makes it worse (a width of one unit, heavy dropout), job 4
# better (wider, no dropout). (b)'s job 4 has (a)'s job 4 params, so it restores (a)'s stages.
TINY = dict(data={"subsample": 1500, "vocab_size": 2000}, train={"epochs": 2},
            models={"multihot_dense": {"hidden_units": [8]}},
            tune={"n_trials": 1, "epochs_per_trial": 1, "base": {"embedding_dim": 2},
                  "space": {"model.units": {"type": "int", "low": 4, "high": 8, "step": 4}}})
WORSE = {"models.multihot_dense": {"hidden_units": [1], "dropout": 0.9}}
BETTER = {"models.multihot_dense": {"hidden_units": [64], "dropout": 0.0}}


def test_workflows_pass_actionlint():
    files = sorted(str(p) for p in (REPO / ".github" / "workflows").glob("*.yml"))
    assert len(files) == 2
    result = subprocess.run([str(BIN / "actionlint"), *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def with_venv(project):
    """Share the repo's environment. A clone's files are new, so its pyproject.toml gets the
    repo's mtime back, or the install stamp's where the repo's pyproject.toml changed after the
    last install: the stamp is then newer and the Makefile's set-up has nothing to do (otherwise
    `pip install -e` would repoint the shared venv at the temporary clone)."""
    if not (project / ".venv").exists():
        (project / ".venv").symlink_to(REPO / ".venv")
    stat = (REPO / "pyproject.toml").stat()
    stamp = REPO / ".venv" / ".rnnops-installed-cpu"
    mtime = min(stat.st_mtime, stamp.stat().st_mtime) if stamp.exists() else stat.st_mtime
    os.utime(project / "pyproject.toml", (stat.st_atime, mtime))
    return project


def merge_cache(source, dest):
    """Every file of DVC cache `source` (run-cache entries, objects) that `dest` lacks, copied."""
    for path in source.rglob("*"):
        target = dest / path.relative_to(source)
        if path.is_file() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


@pytest.fixture(scope="module")
def dvc_remote(tmp_path_factory):
    return tmp_path_factory.mktemp("dvc-remote")


@pytest.fixture(scope="module")
def dvc_caches(tmp_path_factory):
    """What the scenario with a server's clones left in their DVC caches, for the other's clones."""
    return tmp_path_factory.mktemp("dvc-caches")


@pytest.fixture
def github(tmp_path, dvc_remote):
    """'GitHub': a repo on branch main with a DVC remote (a folder) configured and committed."""
    origin = small_project(tmp_path / "origin", **TINY)
    run(["git", "branch", "-M", "main"], origin)
    made = run([str(BIN / "dvc"), "remote", "add", "--default", "storage", str(dvc_remote)], origin)
    assert made.returncode == 0, made.stderr
    run(["git", "commit", "-qam", "DVC remote"], origin)
    return origin


class Jobs:
    """Runs scripts/retrain.sh in a fresh clone per job, with the workflow's environment. With
    `keep_cache` each clone's DVC cache is merged into that folder after its job; with
    `start_cache` each new clone's DVC cache starts as a copy of that folder."""

    def __init__(self, origin, tmp_path, server=None, keep_cache=None, start_cache=None):
        self.origin, self.tmp, self.server, self.count = origin, tmp_path, server, 0
        self.keep_cache, self.start_cache = keep_cache, start_cache

    def run(self, unset_remote=False, clone=None):
        if clone is None:
            self.count += 1
            clone = self.tmp / f"job{self.count}"
            assert run(["git", "clone", "-q", str(self.origin), str(clone)], self.tmp).returncode == 0
            with_venv(clone)
            if self.start_cache:
                merge_cache(self.start_cache, clone / ".dvc" / "cache")
        if unset_remote:
            run([str(BIN / "dvc"), "remote", "default", "--unset"], clone)
        outputs, summary = clone / ".gh_output", clone / ".gh_summary"
        outputs.write_text("")
        summary.write_text("")
        env = {**env_for(clone), "GITHUB_OUTPUT": str(outputs), "GITHUB_STEP_SUMMARY": str(summary),
               "GITHUB_ACTOR": "a-person", "GITHUB_EVENT_NAME": "push", "CI": "true"}
        if self.server:
            env["MLFLOW_TRACKING_URI"] = self.server
        result = run(["bash", "scripts/retrain.sh"], clone, timeout=1200, env=env)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        if self.keep_cache:
            merge_cache(clone / ".dvc" / "cache", self.keep_cache)
        if unset_remote:
            run(["git", "checkout", "--", ".dvc/config"], clone)
        out = dict(line.split("=", 1) for line in outputs.read_text().split())
        decision = json.loads((clone / "retrain" / "decision.json").read_text())
        return clone, out, decision, result.stdout, summary.read_text()

    def merge_pull_request(self, clone, number):
        """The workflow's commit step, then a person merges the pull request into main."""
        branch = f"retrain/{number}"
        for cmd in (["git", "switch", "-qc", branch], ["git", "add", "dvc.lock", "metrics", "plots"],
                    ["git", "commit", "-qm", f"Retrain: new champion (run {number}) [rnnops-retrain]"]):
            done = run(cmd, clone)
            assert done.returncode == 0, done.stdout + done.stderr
        for cmd in (["git", "fetch", "-q", str(clone), branch], ["git", "merge", "-q", "--ff-only", "FETCH_HEAD"]):
            done = run(cmd, self.origin)
            assert done.returncode == 0, done.stdout + done.stderr
        changed = run(["git", "diff", "--name-only", "HEAD~1", "HEAD"], self.origin).stdout.split()
        assert changed and all(p == "dvc.lock" or p.startswith(("metrics/", "plots/")) for p in changed), changed
        # The merge must not start another retraining run (no loop).
        assert retrain_trigger.decide("main", changed, f"Merge {branch}").startswith("skip:")

    def person_changes(self, settings: dict, message: str):
        import yaml

        params = yaml.safe_load((self.origin / "params.yaml").read_text())
        for key, value in settings.items():
            section, name = key.split(".")
            params[section][name] = value
        (self.origin / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        run(["git", "commit", "-qam", message], self.origin)
        assert retrain_trigger.decide("main", ["params.yaml"], message) == "retrain"


def four_jobs(jobs: Jobs, registry: bool):
    decisions = []
    # Job 1: a first baseline: a new champion; the pull request is opened (and merged).
    clone, out, d1, log, summary = jobs.run()
    assert out == {"champion_changed": "true", "open_pr": "true"}, log[-3000:]
    assert d1["champion_changed"] is True and d1["champion_value"] is None
    assert "new champion" in summary and "Pull request: **true**" in summary
    body = (clone / "retrain" / "pr_body.md").read_text()
    assert "### `dvc metrics diff` against main" in body and "metrics/evaluate.json" in body
    assert "Ensembles versus the best member" in body
    if registry:
        assert d1["new_version"] == "1" and "/#/experiments/" in body
    jobs.merge_pull_request(clone, 1)
    decisions.append(d1)

    # Job 2: nothing changed: every stage comes from the DVC remote's run cache; no new champion.
    # (Once, against the server: without one the same job is the same code path up to the
    # decision, which tests/code/test_retrain_decision.py checks for equal committed metrics.)
    if registry:
        clone, out, d2, log, summary = jobs.run()
        assert out == {"champion_changed": "false", "open_pr": "false"}, log[-3000:]
        assert "Running stage" not in log, "job 2 retrained although nothing changed"
        assert (clone / "retrain" / "metrics_diff.md").read_text().strip() == "No metric changed against origin/main."
        assert d2["new_value"] == pytest.approx(d1["new_value"], abs=1e-5)
        decisions.append(d2)

    # Job 3: a person's params change makes the winner worse on the same test split. (Once,
    # against the server, where it also makes a challenger; without one the decision against the
    # committed metrics is tests/code/test_retrain_decision.py's, and jobs 1 and 4 run that path.)
    if registry:
        jobs.person_changes(WORSE, "Try a one-unit multihot_dense")
        clone, out, d3, log, summary = jobs.run()
        assert out == {"champion_changed": "false", "open_pr": "false"}, log[-3000:]
        assert d3["new_value"] < d1["new_value"] and d3["champion_value"] == pytest.approx(d1["new_value"], abs=1e-5)
        assert "does not beat the champion" in d3["reason"]
        registry_json = json.loads((clone / "evaluation" / "registry.json").read_text())
        assert registry_json["alias"] == "challenger" and d3["new_version"] == "2"
        decisions.append(d3)

    # Job 4: a change that makes it better: a new champion, a pull request.
    jobs.person_changes(BETTER, "A wider multihot_dense")
    clone, out, d4, log, summary = jobs.run()
    assert out == {"champion_changed": "true", "open_pr": "true"}, log[-3000:]
    assert d4["new_value"] > d1["new_value"] and "beats the champion" in d4["reason"]
    if registry:
        assert d4["new_version"] == "3" and d4["champion_version"] == "1"
    else:
        # The same job without a DVC remote still decides and diffs, but opens no pull request.
        clone, out, d4_again, log, summary = jobs.run(clone=clone, unset_remote=True)
        assert out == {"champion_changed": "true", "open_pr": "false"}, log[-3000:]
        assert "refusing to open a pull request: no DVC remote" in log and "make remote URL=" in summary
        assert d4_again == d4 and not (clone / "retrain" / "pr_body.md").exists()
        assert "metrics/evaluate.json" in (clone / "retrain" / "metrics_diff.md").read_text()
    decisions.append(d4)
    print(json.dumps(decisions, indent=1))  # the figures quoted in the closing note (pytest -s)
    return decisions


def test_four_jobs_against_a_tracking_server(github, tmp_path, dvc_caches):
    store, port = tmp_path / "server", free_port()
    store.mkdir()
    server = subprocess.Popen(
        [str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}",
         "--artifacts-destination", str(store / "artifacts"), "--serve-artifacts",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=tmp_path, env={**env_for(tmp_path)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{uri}/health", server)
        decisions = four_jobs(Jobs(github, tmp_path, server=uri, keep_cache=dvc_caches), registry=True)
        import mlflow

        client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
        assert client.get_model_version_by_alias("rnnops-tweets", "champion").version == "3"
        assert client.get_model_version_by_alias("rnnops-tweets", "challenger").version == "2"
        assert len(client.search_model_versions("name='rnnops-tweets'")) == 3
        assert [d["champion_changed"] for d in decisions] == [True, False, False, True]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def test_four_jobs_without_a_server_and_no_pr_without_a_remote(github, tmp_path, dvc_caches):
    decisions = four_jobs(Jobs(github, tmp_path, start_cache=dvc_caches), registry=False)
    assert [d["against"] for d in decisions] == ["metrics/evaluate.json at origin/main"] * 2
    assert decisions[0]["reason"] == "no results committed at origin/main: this run is the first baseline"
    assert [d["champion_changed"] for d in decisions] == [True, True]
