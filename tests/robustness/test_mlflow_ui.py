"""The MLflow UI as a person sees it, in headless Chromium, after a full `dvc repro`:

- the link that `rnnops runs urls` prints opens the experiment's runs table ("Model training"
  view; MLflow 3's default GenAI overview shows no runs), which lists the run of every stage;
- a run's page shows its metrics, with test.accuracy's value as stored;
- two runs can be compared side by side (names and a shared metric);
- the tune run's page says which trial won, with a link to that trial's run.

The browser is `chromium`, `chromium-browser` or `google-chrome` (first found on PATH), or the
path in RNNOPS_CHROME. Without one the test is skipped, except under CI=true, where it fails:
CI must not pass without having looked at the UI (.ci/run installs Debian's chromium)."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.parse
from pathlib import Path

import mlflow
import pytest

from tests.conftest import BIN, env_for, free_port, in_ci, run, wait_for_http

pytestmark = [pytest.mark.slow, pytest.mark.browser]
STAGES = ("prepare", "train@lstm", "train@multihot_dense", "tune", "train_tuned", "evaluate", "report")


def find_browser() -> str | None:
    """RNNOPS_CHROME if set, else the first of chromium, chromium-browser, google-chrome on PATH."""
    if os.environ.get("RNNOPS_CHROME"):
        return shutil.which(os.environ["RNNOPS_CHROME"])
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


@pytest.fixture(scope="session")
def browser() -> str:
    """The browser's path; checked before `two_runs` builds its projects (same scope, listed first)."""
    found = find_browser()
    if found is None:
        why = (f"RNNOPS_CHROME={os.environ['RNNOPS_CHROME']} is not an executable" if os.environ.get("RNNOPS_CHROME")
               else "no chromium, chromium-browser or google-chrome on PATH")
        if in_ci():
            pytest.fail(f"{why}: under CI=true the MLflow UI test must run (.ci/run installs chromium)")
        pytest.skip(f"{why}: `apt-get install chromium` (or set RNNOPS_CHROME) to run the MLflow UI test")
    return found


def stop(process: subprocess.Popen) -> None:
    """End `process` and all it started (it leads its own session): TERM, then KILL what is left
    (`mlflow ui` runs uvicorn workers and job consumers as children)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass


def headless(browser: str, profile: Path, *args: str, timeout: float = 120) -> str:
    """Chromium's stdout for one headless invocation; the whole process tree is ended after."""
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--window-size=1600,1200", "--virtual-time-budget=30000",
               f"--user-data-dir={profile}", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               start_new_session=True)
    try:
        out, _ = process.communicate(timeout=timeout)
        return out
    except subprocess.TimeoutExpired:
        return ""
    finally:
        stop(process)


def page_text(browser: str, url: str, profile: Path, until, timeout: float = 300) -> str:
    """The DOM of `url` once `until(dom)` holds (the UI fetches from the server, so this loads the
    page again until it does); the last DOM otherwise, for the assertion messages."""
    deadline, dom = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        dom = headless(browser, profile, "--dump-dom", url)
        if until(dom):
            break
        time.sleep(2)
    return dom


def visible(dom: str) -> str:
    """The text of a DOM dump, tags and scripts dropped (what the page shows, roughly)."""
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom)).replace("&amp;", "&").replace("&#x27;", "'")


def numbers(text: str) -> set[float]:
    return {float(n) for n in re.findall(r"(?<![\w.])\d+\.\d+(?![\w.])", text)}


def test_mlflow_ui_shows_runs_metrics_comparison_and_the_winning_trial(browser, two_runs, tmp_path):
    project = two_runs[1]
    store = f"sqlite:///{project / 'mlruns' / 'mlflow.db'}"
    client = mlflow.MlflowClient(store)
    experiment = client.get_experiment_by_name("rnnops-tweets")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    by_name = {r.info.run_name: r for r in runs if "mlflow.parentRunId" not in r.data.tags}
    assert set(STAGES) <= set(by_name), f"stage runs missing from the store: {set(STAGES) - set(by_name)}"

    # What the stages logged (checked in the store; the browser part below checks what shows).
    evaluate, report, tune = by_name["evaluate"], by_name["report"], by_name["tune"]
    plots = {a.path for a in client.list_artifacts(evaluate.info.run_id, "plots")}
    assert {"plots/confusion_matrix_test.png", "plots/roc_test.png"} <= plots, plots
    assert "winner_test.accuracy" in report.data.metrics, sorted(report.data.metrics)
    best_trial = json.loads((project / "tuning" / "study.json").read_text())["best_trial"]
    best_id = tune.data.tags.get("rnnops.best_trial_run")
    assert best_id, f"the tune run has no rnnops.best_trial_run tag: {sorted(tune.data.tags)}"
    best = client.get_run(best_id)
    assert best.data.tags["mlflow.parentRunId"] == tune.info.run_id
    assert best.data.tags["optuna.trial"] == str(best_trial)
    trial_link = f"#/experiments/{experiment.experiment_id}/runs/{best_id}"
    assert trial_link in tune.data.tags.get("mlflow.note.content", ""), tune.data.tags.get("mlflow.note.content")

    port = free_port()
    ui_address = f"http://127.0.0.1:{port}"
    env = env_for(project)
    # The link a user gets: `rnnops runs urls` on the project's own store (no MLFLOW_TRACKING_URI).
    urls = run([str(BIN / "rnnops"), "runs", "urls", "--ui", ui_address], project, env=env)
    assert urls.returncode == 0, urls.stdout + urls.stderr
    printed = re.findall(r"^rnnops-tweets: (\S+)$", urls.stdout, flags=re.M)
    assert printed, f"`rnnops runs urls` printed no link for rnnops-tweets:\n{urls.stdout}{urls.stderr}"
    runs_page = printed[0]
    assert runs_page.startswith(f"{ui_address}/#/experiments/{experiment.experiment_id}")

    def missing_rows(dom: str) -> list[str]:
        """Stages whose run is not a row of the table: its name as the link to its run page."""
        return [stage for stage in STAGES if not re.search(
            rf'href="#/experiments/{experiment.experiment_id}/runs/{by_name[stage].info.run_id}"[^>]*>'
            rf"\s*(?:<[^>]+>\s*)*{re.escape(stage)}\s*<", dom)]

    lstm, dense = by_name["train@lstm"], by_name["train@multihot_dense"]
    accuracy = lstm.data.metrics["test.accuracy"]
    run_page = f"{ui_address}/#/experiments/{experiment.experiment_id}/runs/{lstm.info.run_id}"
    tune_page = f"{ui_address}/#/experiments/{experiment.experiment_id}/runs/{tune.info.run_id}"
    # MLflow 3.17's compare route (ExperimentRoutes.getCompareRunPageRoute): JSON lists of ids.
    compare_page = (f"{ui_address}/#/compare-runs?runs="
                    f"{urllib.parse.quote(json.dumps([lstm.info.run_id, dense.info.run_id]))}"
                    f"&experiments={urllib.parse.quote(json.dumps([experiment.experiment_id]))}")

    # As `make ui` starts it, with one worker and no GenAI job runners (the pages are the same).
    ui = subprocess.Popen([str(BIN / "mlflow"), "ui", "--backend-store-uri", store, "--host", "127.0.0.1",
                           "--port", str(port), "--workers", "1"], cwd=project,
                          env={**env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_http(f"{ui_address}/health", ui, timeout=300)
        profile = tmp_path / "profile"
        table = page_text(browser, runs_page, profile, lambda d: not missing_rows(d))
        shot = tmp_path / "runs_table.png"
        headless(browser, profile, f"--screenshot={shot}", runs_page)
        details = visible(page_text(browser, run_page, profile,
                                    lambda d: "test.accuracy" in d and "val_accuracy" in d))
        compared = visible(page_text(browser, compare_page, profile,
                                     lambda d: all(n in visible(d) for n in ("train@lstm", "train@multihot_dense"))
                                     and "test.accuracy" in d))
        tune_dom = page_text(browser, tune_page, profile, lambda d: "Best trial" in d and trial_link in d)
    finally:
        stop(ui)

    # (a) the runs table through the printed link: every stage's run, by name, linked to its page.
    assert not missing_rows(table), f"runs table at {runs_page} lacks {missing_rows(table)}; it shows: " \
                                    f"{visible(table)[:3000]}"
    assert shot.exists() and shot.stat().st_size > 10_000
    # (b) a run's page: its metrics, test.accuracy with the value that was logged.
    for metric in ("test.accuracy", "val_accuracy", "test.macro_f1"):
        assert metric in details, f"{metric} not on the page of train@lstm: {details[:3000]}"
    shown = re.findall(r"(?<![\w.])test\.accuracy (\d[\d.e+-]*)", details)
    assert shown and float(shown[0]) == pytest.approx(accuracy, abs=1e-9), \
        f"test.accuracy {accuracy} not shown on the run page (found {shown}): {details[:3000]}"
    # (c) the comparison of two runs: both names and a metric they share.
    for text in ("train@lstm", "train@multihot_dense", "test.accuracy"):
        assert text in compared, f"{text} not on the compare page {compare_page}: {compared[:3000]}"
    for r in (lstm, dense):  # the compare table rounds to 3 decimals
        assert any(abs(n - r.data.metrics["test.accuracy"]) < 5e-4 for n in numbers(compared)), \
            f"test.accuracy of {r.info.run_name} not on the compare page: {compared[:3000]}"
    # The tune run's page says which trial won, in its description, with a link to that run.
    assert f"Best trial: {best.info.run_name}" in visible(tune_dom), \
        f"the tune run's page does not name the best trial: {visible(tune_dom)[:3000]}"
    assert f'href="{trial_link}"' in tune_dom, "the tune run's description does not link to the best trial"
