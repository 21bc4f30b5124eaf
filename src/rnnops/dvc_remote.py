"""`dvc push --run-cache`, completed so that a clone can restore stages from the run cache.

DVC 3.67's `dvc push --run-cache` uploads the run-cache entries and the objects dvc.lock names,
but not the objects of the entries' `cache: false` outputs (rnnops' metrics and plot tables, which
live in git). DVC restores a stage from the run cache only when every output's object is in the
local cache, and every rnnops stage has such an output: after a plain push, a clone without
dvc.lock (or with params set back to an earlier run's) retrains everything. `push` sends those
objects too, through DVC's own run-cache API; a clone then restores stages with
`dvc pull --run-cache` and `dvc repro --pull`.

    python -m rnnops.dvc_remote [TARGETS...] [--remote NAME]      (make push)
"""
from __future__ import annotations

import argparse
import subprocess
import sys


def push_run_cache_objects(remote: str | None = None) -> tuple[int, int]:
    """Every local run-cache entry, and every object its outputs name that the local cache holds,
    to `remote` (None: the default remote). Returns (entries, objects transferred). An entry
    whose outputs are not all local (pulled from another pipeline, say) is still pushed; its
    missing objects are left to whoever has them."""
    from dvc.repo import Repo

    with Repo() as repo:
        entries = repo.stage_cache.push(remote)
        local = repo.cache.local
        objects = {obj for used in repo.stage_cache.get_used_objs(entries).values() for obj in used
                   if local.exists(obj.value)}  # HashInfo
        result = repo.cloud.push(objects, remote=remote)
        return len(entries), len(result.transferred)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m rnnops.dvc_remote", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", help="dvc.yaml files or stages (default: all)")
    parser.add_argument("--remote", "-r", help="DVC remote name (default: the default remote)")
    args = parser.parse_args()
    remote = ["--remote", args.remote] if args.remote else []
    pushed = subprocess.run(["dvc", "push", "--run-cache", *remote, *args.targets])
    if pushed.returncode != 0:
        sys.exit(pushed.returncode)
    entries, objects = push_run_cache_objects(args.remote)
    print(f"run cache: {entries} entries on the remote, {objects} more object(s) of their outputs pushed "
          "(the `cache: false` ones `dvc push` leaves out)")


if __name__ == "__main__":
    main()
