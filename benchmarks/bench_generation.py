"""The generation benchmark.

    python benchmarks/bench_generation.py tweets     # every tweet: a GRU and a Transformer trained, then
                                                    # evaluated with the n-gram peer (no tune stage)
    python benchmarks/bench_generation.py defaults   # the pipeline on a named setup in a scratch clone:
                                                    # wall time, then every model, the n-gram peer and
                                                    # the ensembles on test (bits per character)
    python benchmarks/bench_generation.py speed     # one prompt, 500 characters: incremental decoding
                                                    # (NumPy steps carrying the state) vs the naive loop
                                                    # (a full Keras pass over the growing prefix)

`speed` times the default LSTM of generation/params.yaml (notes_lstm) as trained by `make repro`
when generation/models/notes_lstm exists, else the same architecture untrained (the cost of a
step does not depend on the weights); medians of 3 runs after a warm-up.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SETUPS = {
    "defaults": {},
    # Every tweet (38,158: 3.2M training characters); 3 epochs of batches of 32.
    "tweets": {"data.subsample": None, "train.epochs": 3, "train.batch_size": 32,
               "train.early_stopping.patience": 1},
}
MODELS_OF = {  # setup -> models: blocks replacing params.yaml's
    "tweets": {"gru": {"architecture": "rnn", "cell": "gru", "units": 256, "embedding_dim": 48, "dropout": 0.1},
               "transformer": {"embedding_dim": 128, "heads": 4, "ff_dim": 256, "blocks": 2, "dropout": 0.1}},
}
# Setups whose models are trained and evaluated without the tune stages (one trial epoch over every
# tweet is minutes on 2 cores).
TRAINED_ONLY = {"tweets"}


def set_key(tree: dict, dotted: str, value) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        tree = tree.setdefault(key, {})
    tree[last] = value


def run_pipeline(setup: str, work: Path) -> float:
    subprocess.run(["git", "clone", "-q", str(ROOT), str(work)], check=True)
    params_path = work / "generation" / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    for key, value in SETUPS[setup].items():
        set_key(params, key, value)
    if setup in MODELS_OF:
        params["models"] = MODELS_OF[setup]
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}
    start = time.perf_counter()
    if setup in TRAINED_ONLY:
        for name in params["models"]:
            subprocess.run(["dvc", "repro", f"generation/dvc.yaml:train@{name}"], cwd=work, check=True, env=env,
                           stdout=subprocess.DEVNULL)
        subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "../pipeline/evaluate.py", "--members",
                        ",".join(params["models"])], cwd=work / "generation", check=True, env=env,
                       stdout=subprocess.DEVNULL)
    else:
        subprocess.run(["dvc", "repro", "generation/dvc.yaml"], cwd=work, check=True, env=env,
                       stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def table(folder: Path, seconds: float) -> None:
    details = json.loads((folder / "evaluation" / "details.json").read_text())["scores"]
    winner = json.loads((folder / "evaluation" / "winner.json").read_text())
    spec = json.loads((folder / "data" / "prepared" / "spec.json").read_text())
    print(f"pipeline wall time: {seconds / 60:.1f} min; tokens {spec['tokens']}; vocabulary {spec['vocab_size']}")
    print("| candidate | val bits/char | test bits/char | test perplexity |\n| --- | --- | --- | --- |")
    for name, score in sorted(details.items(), key=lambda kv: kv[1]["val"]["bits_per_token"]):
        mark = " (winner)" if name == winner["winner"] else ""
        print(f"| {name}{mark} | {score['val']['bits_per_token']:.4f} | {score['test']['bits_per_token']:.4f} | "
              f"{score['test']['perplexity']:.3f} |")
    best, peer = details[winner["winner"]]["test"]["bits_per_token"], details["ngram"]["test"]["bits_per_token"]
    print(f"winner {winner['winner']} {winner['weights']}: {100 * (1 - best / peer):.1f}% below the n-gram peer "
          f"(order by validation: {winner['ngram_order_bits']})")


def speed(repeats: int = 3, chars: int = 500) -> None:
    from rnnops.models.keras_io import load_keras_model
    from rnnops.tasks.generation.decoding import Stepper, generate, generate_naive

    trained = ROOT / "generation" / "models" / "notes_lstm" / "model.keras"
    if trained.exists():
        model, what = load_keras_model(trained), f"trained {trained.relative_to(ROOT)}"
    else:
        from rnnops.models.bodies import DatasetSpec, build_model
        from rnnops.params.load import load_params

        params = load_params(ROOT / "generation" / "params.yaml")
        arch, model_params = params.model("notes_lstm")
        spec = DatasetSpec(160, 160, params.train.seq_len, sequence=True)
        model, what = build_model(arch, model_params, spec), "untrained notes_lstm (160 tokens)"
    prompt = [2, 10, 11, 12]

    def timed(fn) -> tuple[float, int]:
        start = time.perf_counter()
        produced = len(fn())
        return time.perf_counter() - start, produced

    stepper = Stepper.from_keras(model)
    fast = lambda: generate(stepper, prompt, chars, seed=0, temperature=1.0, end_id=-1)  # noqa: E731 - never stops early
    greedy = lambda: generate(stepper, prompt, chars, greedy=True, end_id=-1)  # noqa: E731
    naive = lambda: generate_naive(model, prompt, chars, end_id=-1)  # noqa: E731
    for fn in (fast, greedy, naive):
        fn()  # warm-up (and the naive loop's traced shapes)
    rates = {}
    for name, fn in (("incremental, sampling T=1", fast), ("incremental, greedy", greedy), ("naive loop, greedy", naive)):
        runs = [timed(fn) for _ in range(repeats)]
        rates[name] = [n / s for s, n in runs]
    assert greedy() == naive(), "incremental and naive greedy decoding disagree"
    print(f"model: {what}; one prompt, {chars} characters; {repeats} runs each")
    print("| decoding | characters/s (median) | min | max |\n| --- | --- | --- | --- |")
    for name, values in rates.items():
        print(f"| {name} | {statistics.median(values):,.0f} | {min(values):,.0f} | {max(values):,.0f} |")
    ratio = statistics.median(rates["incremental, greedy"]) / statistics.median(rates["naive loop, greedy"])
    print(f"incremental / naive (greedy): {ratio:.0f}x; same {chars} characters: yes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=[*SETUPS, "speed"])
    args = parser.parse_args()
    if args.what == "speed":
        return speed()
    with tempfile.TemporaryDirectory(prefix="rnnops-bench-generation-") as tmp:
        work = Path(tmp) / "project"
        seconds = run_pipeline(args.what, work)
        table(work / "generation", seconds)
        samples = json.loads((work / "generation" / "evaluation" / "samples.json").read_text(encoding="utf-8"))
        for row in samples:
            print(f"[T={row['temperature']}] {row['prompt']!r} -> {row['prompt'] + row['text']!r}")


if __name__ == "__main__":
    main()
