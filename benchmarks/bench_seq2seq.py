"""The sequence-to-sequence benchmark, from the outputs of `make repro` (or `dvc repro
seq2seq/dvc.yaml`) in this checkout.

    python benchmarks/bench_seq2seq.py scores   # every model, the ensemble and the translation-memory
                                                # peer on the held-out test dates: exact match, CER,
                                                # chrF, BLEU; greedy vs beam; seen vs held-out formats;
                                                # exact match by source length
    python benchmarks/bench_seq2seq.py speed    # decoding throughput (sentences/s) of every trained
                                                # model on the test sources, greedy and beam 4,
                                                # median of 3 runs after a warm-up

Nothing here trains: the figures are those of the committed pipeline run (seq2seq/dvc.lock).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "seq2seq"


def read(path: Path):
    if not path.exists():
        raise SystemExit(f"{path}: missing. Run `make repro` (or `dvc repro seq2seq/dvc.yaml`) first.")
    return json.loads(path.read_text())


def scores() -> None:
    details, winner = read(FOLDER / "evaluation" / "details.json"), read(FOLDER / "evaluation" / "winner.json")
    rows = []
    for name, s in details["scores"].items():
        trained = FOLDER / "metrics" / "train" / f"{name}.json"
        greedy = read(trained)["test"]["greedy_exact_match"] if trained.exists() else None
        groups = s["test_by_group"]
        rows.append({"candidate": name + (" (winner)" if name == winner["winner"] else ""),
                     "val exact": s["val"]["exact_match"], "test exact (beam)": s["test"]["exact_match"],
                     "test exact (greedy)": greedy, "CER": s["test"]["cer"], "chrF": s["test"]["chrf"],
                     "BLEU": s["test"]["bleu"],
                     "exact, seen formats": groups.get("seen_format", {}).get("exact_match"),
                     "exact, held-out formats": groups.get("held_out_format", {}).get("exact_match")})
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".4f"))
    print(f"\nwinner {winner['winner']} {winner['weights']}; ensembles: {details['weights']}\n")
    lengths = pd.DataFrame({n: {b: v["exact_match"] for b, v in s["test_by_length"].items()}
                            for n, s in details["scores"].items()}).sort_index()
    pairs = {b: v["pairs"] for b, v in next(iter(details["scores"].values()))["test_by_length"].items()}
    lengths.insert(0, "pairs", [pairs[b] for b in lengths.index])
    print("test exact match by source length (characters):")
    print(lengths.rename_axis("source length").to_markdown(floatfmt=".4f"))


def speed(runs: int = 3) -> None:
    from rnnops.models.keras_io import load_keras_model
    from rnnops.tasks.seq2seq.decoding import Decoder
    from rnnops.tasks.seq2seq.prepared import load
    from rnnops.tasks.seq2seq.translate import translate

    prepared = load(FOLDER / "data" / "prepared")
    sources, _ = prepared.texts("test")
    names = sorted(p.name for p in (FOLDER / "models").iterdir() if (p / "model.keras").exists())
    rows = []
    for name in names:
        decoder = Decoder.from_keras(load_keras_model(FOLDER / "models" / name / "model.keras"))
        row = {"model": name}
        for label, width in (("greedy", 1), ("beam 4", 4)):
            def once():
                start = time.perf_counter()
                translate([decoder], [1.0], prepared.source_vocabulary, prepared.target_vocabulary, sources,
                          prepared.spec["max_source_len"], prepared.spec["target_len"] - 1, width, 0.6, 512)
                return time.perf_counter() - start
            once()  # warm-up: the encoder's tf.function traces once
            seconds = statistics.median(once() for _ in range(runs))
            row[f"{label} sentences/s"] = round(len(sources) / seconds)
        rows.append(row)
    print(f"{len(sources)} test sources, batches of 512, median of {runs} runs")
    print(pd.DataFrame(rows).to_markdown(index=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("scores", "speed"))
    parser.add_argument("--runs", type=int, default=3, help="speed: timed runs per figure (the median)")
    args = parser.parse_args()
    scores() if args.what == "scores" else speed(args.runs)


if __name__ == "__main__":
    main()
