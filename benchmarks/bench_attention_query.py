"""lstm_attention with a query-free scorer (query: none) versus Bahdanau attention whose query is
the LSTM's final state (query: final_state), on the tweets and on an IMDB subsample.

    python benchmarks/bench_attention_query.py                        # both datasets, seeds 42 43
    python benchmarks/bench_attention_query.py --datasets tweets --seeds 1 2 3
    python benchmarks/bench_attention_query.py --imdb-train 10000 --imdb-max-len 300

Everything but `query` is params.yaml's: the `models.lstm_attention` block and the `train:` block
(epochs, early stopping on val_loss with the best epoch's weights restored, optimizer, length
buckets). Data go through rnnops' own prepare step, in process, with the repository's seed, so
both forms see the same splits; each (form, seed) pair then trains through `fit_model` (the loop
`train@lstm_attention` uses) with that seed, so the two forms of one seed start from the same
data order and the same initial weights for every layer they share.
  tweets: params.yaml's `data:` block (the embedded default dataset).
  imdb:   ../shared/data/imdb_reviews.csv.gz (skipped, with a message, when absent), subsampled
          by rnnops' `data.subsample` (stratified by official split and label) to `--imdb-train`
          training and `--imdb-val` validation reviews carved from the official train half, and
          as many official test reviews; `--imdb-vocab` words, `--imdb-max-len` tokens.
Prints one row per run (val and test accuracy of the restored best epoch, epochs, seconds), the
mean per form, which form has the higher mean validation accuracy (the choice; test accuracy is
reported, never used to choose), and the wall time. No timing or accuracy assertions.
"""
import argparse
import os
import statistics
import time
import warnings
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ("none", "final_state")


def prepared(dataset: str, args):
    """(prepared data, description of what was used) for `dataset`, or (None, why) when absent."""
    from rnnops.params.load import Params
    from rnnops.stages.prepare import prepare

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    block = raw["models"]["lstm_attention"]  # validated per form in run()
    raw["models"] = {}
    if dataset == "imdb":
        path = Path(args.imdb_path)
        if not path.exists():
            return None, f"{path} is absent: IMDB skipped (see ../shared/data/README.md)"
        train_and_val = args.imdb_train + args.imdb_val
        raw["data"].update(source="imdb", path=str(path), subsample=2 * train_and_val,  # half test
                           val_fraction=args.imdb_val / train_and_val, vocab_size=args.imdb_vocab + 2,
                           max_len=args.imdb_max_len)
    params = Params.model_validate(raw)
    prep = prepare(params).data
    sizes = {s: len(prep.arrays[s][1]) for s in ("train", "val", "test")}
    d = params.data
    used = (f"{dataset}: {sizes['train']} train / {sizes['val']} val / {sizes['test']} test, "
            f"{prep.spec['num_classes']} classes, vocabulary {prep.spec['vocab_size']} ids (incl. pad, OOV), "
            f"max_len {d.max_len}, truncation {d.truncation}, padding {d.padding}"
            + (f", subsample {d.subsample} of the 50,000 reviews" if d.subsample else ""))
    return (params, prep, block), used


def run(params, prep, block: dict, query: str, seed: int) -> dict:
    from rnnops.models.bodies import DatasetSpec
    from rnnops.params.architectures import ARCHITECTURES
    from rnnops.training.fit import fit_model

    model_params = ARCHITECTURES["lstm_attention"].model_validate({**block, "query": query})
    spec = DatasetSpec.from_json(prep.spec)
    result = fit_model("lstm_attention", model_params, params.train, spec, prep.arrays, seed, verbose=0)
    return {"val": result.metrics["val"]["accuracy"], "test": result.metrics["test"]["accuracy"],
            "best_epoch": result.best_epoch, "epochs": len(result.history), "seconds": result.seconds,
            "params": result.params_count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", choices=["tweets", "imdb"], default=["tweets", "imdb"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43])
    parser.add_argument("--imdb-path", default=str(ROOT.parent / "shared" / "data" / "imdb_reviews.csv.gz"))
    parser.add_argument("--imdb-train", type=int, default=5000, help="training reviews (official train half)")
    parser.add_argument("--imdb-val", type=int, default=1250, help="validation reviews (official train half)")
    parser.add_argument("--imdb-vocab", type=int, default=10_000, help="words kept (+ padding and OOV ids)")
    parser.add_argument("--imdb-max-len", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message=".*(ran out of data|`shuffle=True` was passed).*")

    start = time.perf_counter()
    rows, notes, walls = [], [], {}
    for dataset in args.datasets:
        began = time.perf_counter()
        data, used = prepared(dataset, args)
        print(used, flush=True)
        notes.append(used)
        if data is None:
            continue
        params, prep, block = data
        for seed in args.seeds:
            for query in QUERIES:
                r = {"dataset": dataset, "query": query, "seed": seed, **run(params, prep, block, query, seed)}
                rows.append(r)
                print(f"  {dataset:6s} query={query:11s} seed {seed}: val {r['val']:.4f}  test {r['test']:.4f}  "
                      f"best epoch {r['best_epoch']}/{r['epochs']}  {r['seconds']:.0f} s", flush=True)
        walls[dataset] = time.perf_counter() - began

    print()
    print("| dataset | query | seed | params | best epoch / run | val accuracy | test accuracy | fit s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['dataset']} | {r['query']} | {r['seed']} | {r['params']:,} | {r['best_epoch']} / {r['epochs']} "
              f"| {r['val']:.4f} | {r['test']:.4f} | {r['seconds']:.0f} |")
    print()
    print("| dataset | query | seeds | mean val accuracy | mean test accuracy |")
    print("| --- | --- | --- | --- | --- |")
    verdicts = []
    for dataset in walls:
        means = {}
        for query in QUERIES:
            mine = [r for r in rows if r["dataset"] == dataset and r["query"] == query]
            means[query] = statistics.mean(r["val"] for r in mine)
            print(f"| {dataset} | {query} | {len(mine)} | {means[query]:.4f} "
                  f"| {statistics.mean(r['test'] for r in mine):.4f} |")
        best = max(QUERIES, key=lambda q: means[q])
        verdicts.append(f"{dataset}: higher mean validation accuracy with query={best} "
                        f"({100 * (means[best] - min(means.values())):+.2f} points); wall {walls[dataset]:.0f} s")
    print()
    print("\n".join(verdicts))
    print(f"wall time {time.perf_counter() - start:.0f} s (prepare included)")


if __name__ == "__main__":
    main()
