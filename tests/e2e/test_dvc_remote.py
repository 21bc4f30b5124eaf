"""A DVC remote made by `make remote URL=<folder>` and filled by `make push`: the finished project
pushes its data, models and run cache there, and a fresh git clone of its committed results pulls
them (`dvc pull --run-cache`), real DVC throughout. Checked: `make remote` sets the folder as the
committed default remote; the remote holds one run-cache entry per stage and every object of their
outputs; the clone's outputs are byte-identical to the origin's and its `dvc repro` runs nothing;
with the clone's dvc.lock and every output deleted, `dvc repro --pull` restores each stage from
the run cache ("Stage '<name>' is cached - skipping run, checking out outputs"), runs none (a
`python` tripwire on PATH records any stage command; the clone gets no MLflow store) and writes
back the origin's dvc.lock.

Why `make push` and not plain `dvc push --run-cache` (checked below too): DVC 3.67 leaves out the
objects of the run-cache entries' `cache: false` outputs (the metrics and plot tables committed to
git); every stage here has one, so with a plain push no stage could be restored from the run cache.
"""
import hashlib
import json
import re
import shutil
import stat

import pytest
import yaml

from tests.conftest import BIN, env_for, run

pytestmark = pytest.mark.slow
CACHED = re.compile(r"^Stage '(.+)' is cached - skipping run, checking out outputs$", re.M)
RAN = re.compile(r"^Running stage '(.+)':$", re.M)
UNCHANGED = re.compile(r"^Stage '(.+)' didn't change, skipping$", re.M)


def ok(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def lock(project):
    return yaml.safe_load((project / "dvc.lock").read_text())["stages"]


def outputs(project):
    """Every output path dvc.lock names, the DVC-cached ones and those committed to git."""
    return sorted(out["path"] for stage in lock(project).values() for out in stage["outs"])


def in_git(project, path):
    return bool(run(["git", "ls-files", path], project).stdout.strip())


def cache_objects(store):
    """The md5s of a DVC 3 cache or folder remote (same layout: files/md5/ab/cdef...)."""
    return {f"{p.parent.name}{p.name}" for p in (store / "files" / "md5").glob("*/*")}


def lock_objects(project):
    """The objects dvc.lock's DVC-cached outputs name: each file, each folder's .dir listing and
    the files it lists (read from `project`'s cache)."""
    objects = set()
    for path in outputs(project):
        if in_git(project, path):
            continue
        md5 = next(o["md5"] for s in lock(project).values() for o in s["outs"] if o["path"] == path)
        objects.add(md5)
        if md5.endswith(".dir"):
            listing = project / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
            objects.update(entry["md5"] for entry in json.loads(listing.read_text()))
    return objects


def git_only_objects(project):
    """The objects of the `cache: false` outputs (committed to git, never in dvc.lock's pushes)."""
    return {o["md5"] for s in lock(project).values() for o in s["outs"] if in_git(project, o["path"])}


def run_cache_commands(store):
    """The stage command of each run-cache entry under `store` (a cache or a folder remote)."""
    return [yaml.safe_load(p.read_text())["cmd"] for p in (store / "runs").glob("*/*/*")]


def digests(project, paths):
    """sha256 of every file under each of `paths`, by path relative to `project`."""
    found = {}
    for path in paths:
        root = project / path
        for file in [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()):
            found[str(file.relative_to(project))] = hashlib.sha256(file.read_bytes()).hexdigest()
    return found


def clone(origin, dest):
    """A fresh git clone of the origin's committed results, its DVC remote from .dvc/config."""
    ok(run(["git", "clone", "-q", str(origin), str(dest)], origin))
    return dest


def tripwire(tmp_path):
    """Environment whose `python` (every stage command's first word) only records that it was
    called and fails: a stage that is not restored fails at once instead of training. DVC itself
    runs from the venv by its own shebang."""
    folder = tmp_path / "tripwire"
    folder.mkdir()
    script = folder / "python"
    script.write_text(f"#!/bin/sh\necho \"$*\" >> '{folder / 'ran'}'\nexit 97\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return folder


def repro_with_tripwire(project, tmp_path, *args):
    folder = tripwire(tmp_path)
    env = env_for(project)
    env["PATH"] = f"{folder}:{env['PATH']}"
    result = run(["dvc", "repro", *args], project, env=env)
    ran = (folder / "ran").read_text().splitlines() if (folder / "ran").exists() else []
    return result, ran


def forget_results(project):
    """Delete dvc.lock and every output (cached ones and the committed metrics and plots), so the
    only record of the stages' results left in the clone is the run cache."""
    paths = outputs(project)
    (project / "dvc.lock").unlink()
    for path in paths:
        target = project / path
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()
    return paths


def assert_restored_from_run_cache(clone, origin, result, ran, deleted):
    log = result.stdout + result.stderr
    stages = ok(run(["dvc", "stage", "list", "--name-only"], clone)).stdout.split()
    assert sorted(stages) == sorted(lock(origin)) and len(stages) == 7
    assert (result.returncode, ran, RAN.findall(log)) == (0, [], []), log[-3000:]
    assert sorted(CACHED.findall(log)) == sorted(stages), log[-3000:]
    # No stage ran, so nothing logged to MLflow: the clone has no store at all.
    assert not (clone / "mlruns" / "mlflow.db").exists()
    restored, original = lock(clone), lock(origin)
    for name in stages:
        assert restored[name]["outs"] == original[name]["outs"], name
    assert restored == original  # deps and params too: the same lock, written back
    assert digests(clone, deleted) == digests(origin, deleted)


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    return tmp_path_factory.mktemp("dvc-remote")


@pytest.fixture(scope="module")
def origin(finished_project, remote, tmp_path_factory):
    """A copy of the finished project (others read that one) with `make remote` run, its results
    committed, and data, models and run cache pushed to the folder."""
    project = tmp_path_factory.mktemp("origin") / "project"
    shutil.copytree(finished_project, project, symlinks=True)
    # BIN: the test's venv (the copy has none); -o: `setup` does not install into it.
    made = ok(run(["make", "-o", ".venv/.rnnops-installed-cpu", "remote", f"URL={remote}", f"BIN={BIN}"], project))
    assert f"DVC remote 'storage' -> {remote} (in .dvc/config; commit it to share)\n" in made.stdout
    ok(run(["git", "add", "-A"], project))
    ok(run(["git", "commit", "-qm", "results and the team's DVC remote"], project))
    pushed = ok(run(["make", "-o", ".venv/.rnnops-installed-cpu", "push", f"BIN={BIN}"], project))
    objects = len(git_only_objects(project))
    assert (f"run cache: 7 entries on the remote, {objects} more object(s) of their outputs pushed "
            "(the `cache: false` ones `dvc push` leaves out)") in pushed.stdout, pushed.stdout[-2000:]
    return project


@pytest.fixture(scope="module")
def pulled(origin, tmp_path_factory):
    project = clone(origin, tmp_path_factory.mktemp("pulled") / "clone")
    ok(run(["dvc", "pull", "--run-cache"], project))
    return project


def test_make_remote_commits_the_folder_as_the_default_remote(origin, remote):
    assert ok(run(["dvc", "config", "core.remote"], origin)).stdout == "storage\n"
    assert ok(run(["dvc", "remote", "list"], origin)).stdout.split() == ["storage", str(remote), "(default)"]
    assert run(["git", "status", "--porcelain"], origin).stdout == ""  # .dvc/config is committed


def test_the_remote_holds_each_stages_run_cache_entry_and_the_locked_outputs(origin, remote):
    commands = run_cache_commands(remote)
    assert sorted(commands) == sorted(stage["cmd"] for stage in lock(origin).values())
    assert len(commands) == 7  # one run per stage: the origin ran `dvc repro` once
    assert lock_objects(origin) | git_only_objects(origin) <= cache_objects(remote)


def test_plain_dvc_push_run_cache_leaves_out_the_cache_false_outputs(origin, tmp_path):
    """Why `make push` exists: DVC's own push sends every object but those of the metrics and plot
    tables (`cache: false`), without which DVC restores no stage from the run cache."""
    plain = tmp_path / "plain-remote"
    ok(run(["dvc", "remote", "add", "--local", "plain", str(plain)], origin))  # config.local: not committed
    try:
        ok(run(["dvc", "push", "--run-cache", "--remote", "plain"], origin))
    finally:
        (origin / ".dvc" / "config.local").unlink()
    assert len(run_cache_commands(plain)) == 7
    assert cache_objects(plain) == lock_objects(origin)
    assert git_only_objects(origin) and git_only_objects(origin).isdisjoint(cache_objects(plain))


def test_the_fresh_clone_pulls_byte_identical_data_models_and_results(pulled, origin):
    # Exactly the entries and the objects dvc.lock names: nothing else came down.
    assert sorted(run_cache_commands(pulled / ".dvc" / "cache")) == sorted(run_cache_commands(origin / ".dvc" / "cache"))
    assert cache_objects(pulled / ".dvc" / "cache") == lock_objects(origin)
    paths = outputs(origin)
    pulled_files, origin_files = digests(pulled, paths), digests(origin, paths)
    assert pulled_files == origin_files
    for name in ("models/lstm/model.keras", "models/multihot_dense/model.keras", "models/tuned/model.keras",
                 "data/prepared/train.npz", "data/prepared/vocab.txt", "evaluation/winner.json",
                 "tuning/best_params.json", "metrics/evaluate.json"):
        assert name in pulled_files, name


def test_the_pulled_clone_reproduces_nothing(pulled, origin, tmp_path):
    result, ran = repro_with_tripwire(pulled, tmp_path)
    ok(result)
    assert (ran, RAN.findall(result.stdout)) == ([], [])
    assert sorted(UNCHANGED.findall(result.stdout)) == sorted(lock(origin))
    assert "Data and pipelines are up to date." in result.stdout
    assert run(["git", "status", "--porcelain"], pulled).stdout == ""  # dvc.lock untouched
    assert not (pulled / "mlruns" / "mlflow.db").exists()


def test_without_dvc_lock_every_stage_is_restored_from_the_run_cache(origin, tmp_path):
    project = clone(origin, tmp_path / "clone")
    ok(run(["dvc", "pull", "--run-cache"], project))
    deleted = forget_results(project)
    result, ran = repro_with_tripwire(project, tmp_path, "--pull")
    assert_restored_from_run_cache(project, origin, result, ran, deleted)
