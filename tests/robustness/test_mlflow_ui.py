"""The MLflow UI as a person sees it: headless Chromium on the experiment page lists the run of
every stage with its metrics. Needs Debian's `chromium` (apt install chromium); skipped without."""
import shutil
import subprocess

import mlflow
import pytest

from tests.conftest import BIN, env_for, free_port, wait_for_http

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium: `apt install chromium` to run the UI test")
def test_experiment_page_lists_every_stage(two_runs, tmp_path):
    project = two_runs[1]
    store = f"sqlite:///{project / 'mlruns' / 'mlflow.db'}"
    experiment = mlflow.MlflowClient(store).get_experiment_by_name("rnnops-tweets")
    port = free_port()
    ui = subprocess.Popen([str(BIN / "mlflow"), "ui", "--backend-store-uri", store, "--host", "127.0.0.1",
                           "--port", str(port)], cwd=project, env=env_for(project),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", ui, timeout=120)
        url = f"http://127.0.0.1:{port}/#/experiments/{experiment.experiment_id}/runs"
        browser = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1600,1000",
                   "--virtual-time-budget=20000"]
        dom = subprocess.run([*browser, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
        shot = tmp_path / "experiment.png"
        subprocess.run([*browser, f"--screenshot={shot}", url], capture_output=True, timeout=120)
        # A run's page lists its metrics (the runs table scrolls them out of the DOM).
        (lstm,) = [r for r in mlflow.MlflowClient(store).search_runs([experiment.experiment_id])
                   if r.info.run_name == "train@lstm"]
        run_page = subprocess.run([*browser, "--dump-dom", f"{url}/{lstm.info.run_id}"],
                                  capture_output=True, text=True, timeout=120).stdout
    finally:
        ui.terminate()
        ui.wait(timeout=30)
    for stage in ("prepare", "train@lstm", "train@multihot_dense", "tune", "train_tuned", "evaluate", "report"):
        assert stage in dom, f"{stage} not on the experiment page"
    assert "test.accuracy" in run_page and "val_accuracy" in run_page
    assert shot.exists() and shot.stat().st_size > 10_000
