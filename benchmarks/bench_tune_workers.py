"""Trials per hour of the default study with 1 and 2 tuning workers on this machine.

    python benchmarks/bench_tune_workers.py                    # rounds of: 1 worker, 2 workers, 2 oversubscribed
    python benchmarks/bench_tune_workers.py --rounds 3 --storage postgresql+psycopg://...

Runs `pipeline/tune.py --workers N` (the real stage) on the project's prepared data (run `dvc repro
prepare` first) with params.yaml's study (trials, epochs, space, pruner), each time on a fresh
storage (SQLite in a temporary folder unless --storage names a server database, where each run gets
a study of its own) and a temporary MLflow store, so the project's study and runs are untouched.
Variants, interleaved round by round so machine drift hits each alike:
  1 worker                  TensorFlow's default threads (every core);
  2 workers                 tune.threads_per_worker null: cores / 2 threads each;
  2 workers, oversubscribed threads_per_worker = cores: each worker as if it were alone.
Prints every run (wall seconds, finished trials, epochs) and per variant the median trials/hour,
epochs/hour and the ratio to 1 worker. No assertions.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from rnnops.training.study import machine_cores  # noqa: E402

VARIANTS = {"1 worker": (1, None), "2 workers": (2, None), "2 workers, oversubscribed": (2, "cores")}


def study_run(name: str, workers: int, threads, storage: str, tmp: Path, prepared: Path) -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["tune"].update(storage=storage, study_name=name, workers=workers,
                          threads_per_worker=machine_cores() if threads == "cores" else threads)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(params))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "pipeline/tune.py", "--params", str(path), "--prepared", str(prepared),
                    "--best", str(tmp / f"{name}-best.json"), "--summary", str(tmp / f"{name}-study.json"),
                    "--history", str(tmp / f"{name}-history.csv")], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    trials = optuna.load_study(study_name=name, storage=storage).get_trials()
    finished = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    return {"seconds": seconds, "trials": len(finished), "epochs": sum(len(t.intermediate_values) for t in finished)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--prepared", type=Path, default=ROOT / "data" / "prepared")
    parser.add_argument("--storage", help="an RDB URL (PostgreSQL) instead of a fresh SQLite file per run")
    args = parser.parse_args()
    tune = yaml.safe_load((ROOT / "params.yaml").read_text())["tune"]
    print(f"default study: {tune['n_trials']} trials x {tune['epochs_per_trial']} epochs, pruner {tune['pruner']}, "
          f"{machine_cores()} cores, storage {'server' if args.storage else 'sqlite'}")
    results = {variant: [] for variant in VARIANTS}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for round_ in range(args.rounds):
            for variant, (workers, threads) in VARIANTS.items():
                name = f"bench-{round_}-{workers}-{threads or 'auto'}-{int(time.time())}"
                storage = args.storage or f"sqlite:///{tmp / name}.db"
                result = study_run(name, workers, threads, storage, tmp, args.prepared)
                results[variant].append(result)
                print(f"round {round_ + 1} {variant:27s} {result['seconds']:7.1f} s  {result['trials']} trials  "
                      f"{result['epochs']} epochs", flush=True)
    print("\n| workers | threads per worker | trials/hour (median) | epochs/hour | vs 1 worker |")
    print("| --- | --- | --- | --- | --- |")
    base = None
    for variant, runs in results.items():
        per_hour = statistics.median(r["trials"] / r["seconds"] * 3600 for r in runs)
        epochs = statistics.median(r["epochs"] / r["seconds"] * 3600 for r in runs)
        base = base or per_hour
        workers, threads = VARIANTS[variant]
        shown = machine_cores() if threads == "cores" else (max(1, machine_cores() // workers) if workers > 1 else "all")
        print(f"| {variant} | {shown} | {per_hour:.0f} | {epochs:.0f} | {per_hour / base:.2f}x |")


if __name__ == "__main__":
    main()
