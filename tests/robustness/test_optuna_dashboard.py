"""`make optuna-ui` as a person sees it: optuna-dashboard on the study storage of params.yaml, in
headless Chromium (the browser machinery of test_mlflow_ui), for both storages the README names:

- SQLite, the default (tune.storage empty: sqlite:///<project>/tuning/optuna.db);
- PostgreSQL, tune.storage set to a database of the tests' real server (`postgres` fixture).

A small real study is written with Optuna itself (no training): complete, pruned and failed trials
with parameters named like rnnops' space. The server is started as `make optuna-ui` starts it (the
command `make -n` prints, run in the project folder) and the test checks that

- it listens on 127.0.0.1 only: nothing else listens on its port, and the machine's non-loopback
  address, where a wildcard listener answers, refuses the connection;
- the studies list shows the study, linked to its page (its id in the storage);
- the study's page shows its name and id, the best trial's number and value (as the dashboard
  prints a number) and the "History" plot (a Plotly graph) with one point per complete or pruned
  trial;
- the trials list shows how many trials there are, and each one's number and state.

Without chromium the test is skipped (failed under CI=true), like the MLflow UI test; without
PostgreSQL binaries the PostgreSQL case is skipped (failed under CI=true)."""
from __future__ import annotations

import ipaddress
import math
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from tests.conftest import REPO, env_for, free_port, stop_server, wait_for_http, write_params
from tests.robustness.test_mlflow_ui import browser, page_text, visible  # noqa: F401 (browser: a fixture)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

STUDY = "tweets-dashboard-test"
OTHER = "tweets-other-study"  # a second study, so the list must tell them apart
PRUNED, FAILED = {2}, {4}
N_TRIALS = 6
STATE = {"COMPLETE": "Complete", "PRUNED": "Pruned", "FAIL": "Fail"}  # the dashboard's words


def objective(trial: optuna.Trial) -> float:
    """Cheap and deterministic given the sampled params; trial 2 is pruned, trial 4 fails."""
    units = trial.suggest_int("model.units", 32, 96, step=32)
    learning_rate = trial.suggest_float("train.learning_rate", 1e-4, 1e-2, log=True)
    cell = trial.suggest_categorical("model.cell", ["simple_rnn", "lstm", "gru"])
    score = 0.5 + units / 1000 + learning_rate + (0.01 if cell == "gru" else 0.0)
    for step in range(2):
        trial.report(score - 0.05 * (1 - step), step)
        if trial.number in PRUNED and step == 1:
            raise optuna.TrialPruned()
    if trial.number in FAILED:
        raise ValueError("a failing trial")
    return score


def make_studies(storage: optuna.storages.BaseStorage) -> optuna.Study:
    """The study (N_TRIALS trials, seeded) and a one-trial other study in `storage`, afresh."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # no log line per trial (nor for the failing one)
    try:
        for name in (STUDY, OTHER):  # the PostgreSQL server lives for the whole session
            if name in optuna.get_all_study_names(storage):
                optuna.delete_study(study_name=name, storage=storage)
        study = optuna.create_study(study_name=STUDY, storage=storage, direction="maximize",
                                    sampler=optuna.samplers.RandomSampler(seed=0))
        study.optimize(objective, n_trials=N_TRIALS, catch=(ValueError,))
        other = optuna.create_study(study_name=OTHER, storage=storage, direction="minimize")
        other.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    finally:
        optuna.logging.set_verbosity(verbosity)
    return study


def js_number(value: float) -> str:
    """A float as JavaScript's String(number) writes it (what the dashboard shows); Python's repr
    agrees in this range, except for integers ("1" not "1.0")."""
    assert math.isfinite(value) and (value == 0 or 1e-4 <= abs(value) < 1e16), value
    return str(int(value)) if value == int(value) else repr(value)


def listening_addresses(port: int) -> set[str] | None:
    """The local addresses of the TCP sockets listening on `port` (Linux /proc/net/tcp{,6});
    None where /proc has no such table."""
    found, tables = set(), [(Path("/proc/net/tcp"), socket.AF_INET), (Path("/proc/net/tcp6"), socket.AF_INET6)]
    if not tables[0][0].exists():
        return None
    for table, family in tables:
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            address, _, hex_port = fields[1].partition(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)  # 32-bit words in host (little-endian) order
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                found.add(socket.inet_ntop(family, raw))
    return found


def outside_address() -> str | None:
    """An IPv4 address of this machine that is not loopback and that a wildcard (0.0.0.0) listener
    answers on; None if there is none (then the refusal below proves nothing)."""
    candidates = []
    for target in ("192.0.2.1", "10.255.255.255", "8.8.8.8"):  # UDP connect sends nothing
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect((target, 9))
                candidates.append(probe.getsockname()[0])
            except OSError:
                pass
    try:
        candidates += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    except OSError:
        pass
    for address in dict.fromkeys(candidates):
        ip = ipaddress.ip_address(address)
        if ip.is_loopback or ip.is_unspecified:
            continue
        with socket.socket() as wildcard:
            wildcard.bind(("0.0.0.0", 0))
            wildcard.listen()
            try:
                socket.create_connection((address, wildcard.getsockname()[1]), timeout=3).close()
                return address
            except OSError:
                continue
    return None


def refused(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=3).close()
        return False
    except ConnectionRefusedError:
        return True


def make_optuna_ui(port: int) -> list[str]:
    """The command `make optuna-ui` runs (its last recipe line; earlier ones may be setup's)."""
    # Under `make test` this make is nested: without MAKEFLAGS/MAKELEVEL, and --no-print-directory,
    # it prints no "make[1]: Entering directory" lines around the recipe.
    env = {k: v for k, v in env_for(REPO).items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    result = subprocess.run(["make", "--no-print-directory", "-n", "optuna-ui", f"OPTUNA_PORT={port}"], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    command = shlex.split(result.stdout.strip().splitlines()[-1])
    assert command[1:] == ["-m", "rnnops.servers", "optuna-ui", "--port", str(port)], command
    assert Path(command[0]).name.startswith("python"), command
    return command if Path(command[0]).exists() else [sys.executable, *command[1:]]


def history_plot(dom: str) -> str:
    """The DOM of the study page's history graph: from the div with id plot-history to the next
    Plotly graph (or the end)."""
    start = dom.find('id="plot-history"')
    if start < 0:
        return ""
    end = dom.find("js-plotly-plot", start + len('id="plot-history" class="js-plotly-plot"'))
    return dom[start:end if end > 0 else len(dom)]


@pytest.fixture(params=["sqlite", "postgresql"])
def storage(request, tmp_path) -> tuple[Path, str]:
    """(project folder, storage URL): a folder with .dvc/ (project_root() finds it) and a
    params.yaml whose tune.storage is empty (SQLite in tuning/) or a PostgreSQL database."""
    project = tmp_path / "project"
    (project / ".dvc").mkdir(parents=True)
    if request.param == "sqlite":
        (project / "tuning").mkdir()
        url, setting = f"sqlite:///{project / 'tuning' / 'optuna.db'}", None
    else:
        url = setting = request.getfixturevalue("postgres").create_database("optuna_dashboard_test")
    write_params(project / "params.yaml", tune={"storage": setting})
    return project, url


def test_optuna_ui_shows_the_study_its_trials_and_history(browser, storage, tmp_path):  # noqa: F811
    project, url = storage
    storage_engine = optuna.storages.RDBStorage(url)
    study = make_studies(storage_engine)
    trials = study.get_trials(deepcopy=False)
    states = [(t.number, STATE[t.state.name]) for t in trials]
    assert [s for _, s in states] == ["Pruned" if n in PRUNED else "Fail" if n in FAILED else "Complete"
                                      for n in range(N_TRIALS)], states
    plotted = sum(state in ("Complete", "Pruned") for _, state in states)
    best = study.best_trial
    study_id = storage_engine.get_study_id_from_name(STUDY)
    other_id = storage_engine.get_study_id_from_name(OTHER)
    storage_engine.engine.dispose()
    password = url.partition("://")[2].rpartition("@")[0].partition(":")[2]  # of a server URL

    port = free_port()
    address = f"http://127.0.0.1:{port}"
    log = tmp_path / "optuna-ui.log"
    with log.open("w") as out:
        server = subprocess.Popen(make_optuna_ui(port), cwd=project, env=env_for(project), stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_http(f"{address}/api/studies", server, timeout=90)
        listening = listening_addresses(port)
        outside = outside_address()
        outside_refused = refused(outside, port) if outside else None
        profile = tmp_path / "profile"
        home = page_text(browser, f"{address}/dashboard", profile,
                         lambda d: f'href="/dashboard/studies/{study_id}"' in d and STUDY in d and OTHER in d,
                         timeout=120)
        page = page_text(browser, f"{address}/dashboard/studies/{study_id}", profile,
                         lambda d: history_plot(d).count('class="point"') >= plotted and "Best Trial" in d,
                         timeout=120)
        listed = page_text(browser, f"{address}/dashboard/studies/{study_id}/trials", profile,
                           lambda d: f"{len(trials)} Trials" in visible(d), timeout=120)
    finally:
        stop_server(server)
    printed = log.read_text()

    # Served where make optuna-ui says, on the storage of params.yaml, without printing a password.
    assert f"optuna-ui: {address}/dashboard on {url.split('@')[-1]}" in printed, printed
    assert not password or password not in printed, "the server's output shows the storage's password"
    # Bound to loopback only.
    if listening is not None:
        assert listening == {"127.0.0.1"}, f"optuna-ui listens on {listening}, not on 127.0.0.1 only"
    if outside:
        assert outside_refused, f"{outside}:{port} (not loopback) accepted a connection"

    # The studies list: each study by name, this one linked to its page.
    shown = visible(home)
    assert re.search(rf'href="/dashboard/studies/{study_id}"[^>]*>\s*(?:<[^>]+>\s*)*{study_id}\. {STUDY}\s*<',
                     home), f"no link to {STUDY}'s page on the studies list: {shown[:2000]}"
    assert f"{other_id}. {OTHER}" in shown, shown[:2000]
    assert f"{study_id}. {STUDY} Direction: MAXIMIZE" in shown, shown[:2000]

    # The study's page: its name, the best trial and the history plot with every plotted trial.
    text = visible(page)
    assert f"{STUDY} (id={study_id})" in text, text[:3000]
    assert f"Best Trial (number={best.number}) {js_number(best.value)}" in text, \
        f"best trial {best.number} with value {js_number(best.value)} not shown: {text[:3000]}"
    assert f"model.units: {best.params['model.units']}" in text, text[:3000]
    assert re.search(r'<h6[^>]*>History</h6>(?:(?!<h6).)*<div id="plot-history" class="js-plotly-plot">', page,
                     flags=re.S), "no Plotly graph under the study page's History heading"
    graph = history_plot(page)
    points = graph.count('class="point"')
    assert 'class="main-svg"' in graph, "the history graph has no drawing"
    assert points == plotted, f"the history graph has {points} points, not {plotted} (complete + pruned)"
    assert 'data-unformatted="Trial"' in graph and 'data-unformatted="Objective 0"' in graph  # axis titles

    # The trials list: the count, and every trial with its state, in order.
    listing = visible(listed)
    assert f"{len(trials)} Trials" in listing, listing[:3000]
    assert re.findall(r"\bTrial (\d+) (Complete|Pruned|Fail|Running|Waiting)\b", listing) == \
        [(str(n), s) for n, s in states], f"trials list differs from {states}: {listing[:3000]}"
