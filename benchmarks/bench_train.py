"""Training speed: the plain-Keras IMDB recipe versus rnnops' input pipeline, in one process.

    python benchmarks/bench_train.py --imdb-path ../shared/data/imdb_reviews.csv.gz --epochs 4

Both train the same LSTM (embedding 32, LSTM 32, sigmoid head; vocabulary 10k; max_len 500;
batch 128; RMSprop 1e-3) on the same prepared IMDB token ids for the same number of epochs:
  (a) plain recipe: every review padded (and cut) to 500 tokens, NumPy arrays into `fit`;
  (b) rnnops: `rnnops.train.fit_model` (tf.data, length buckets, masking, prefetch).
Prints samples/second and seconds per epoch (median over epochs, so one slow epoch on a shared
machine does not skew it), official-test accuracy of each, and the ratio. `--rnnops-batch 256`
adds a run of (b) with a larger batch, which this pipeline's bucketing makes cheap to pad.
"""
import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]


def prepared_imdb(path: str, seed: int):
    from rnnops.config import Params
    from rnnops.prepare import prepare

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["data"].update(source="imdb", path=path, vocab_size=10_000, max_len=500,
                       truncation="pre", padding="pre")  # Keras pad_sequences' defaults
    raw["seed"] = seed
    raw["models"] = {}
    return prepare(Params.model_validate(raw))


def epoch_timer():
    """A Keras callback whose `.times` holds each epoch's wall time."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.start)

    return EpochTimer()


def plain_recipe(arrays, epochs: int, seed: int):
    import keras

    from rnnops.train import set_determinism

    set_determinism(seed)
    model = keras.Sequential([keras.Input((500,), dtype="int32"), keras.layers.Embedding(10_000, 32),
                              keras.layers.LSTM(32), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    (x, y), (xv, yv), (xt, yt) = arrays["train"], arrays["val"], arrays["test"]
    timer = epoch_timer()
    model.fit(x, y, batch_size=128, epochs=epochs, validation_data=(xv, yv), verbose=2, callbacks=[timer])
    accuracy = float(((model.predict(xt, batch_size=512, verbose=0).ravel() > 0.5) == yt).mean())
    return statistics.median(timer.times), accuracy


def rnnops_pipeline(arrays, epochs: int, seed: int, workdir: Path, batch_size: int = 128):
    from rnnops.architectures import REGISTRY, DatasetSpec
    from rnnops.config import TrainParams
    from rnnops.train import fit_model

    train = yaml.safe_load((ROOT / "params.yaml").read_text())["train"]
    train.update(epochs=epochs, batch_size=batch_size, optimizer="rmsprop", learning_rate=1e-3,
                 clipnorm=None, early_stopping={"monitor": "val_loss", "patience": epochs})
    params = REGISTRY["lstm"].params(embedding_dim=32, units=32, dropout=0.0)
    timer = epoch_timer()
    result = fit_model("lstm", params, TrainParams.model_validate(train), DatasetSpec(10_002, 2, 500),
                       arrays, seed, workdir, extra_callbacks=[timer], evaluate_splits=("test",))
    return statistics.median(timer.times), result.metrics["test"]["accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--imdb-path", default=str(ROOT.parent / "shared" / "data" / "imdb_reviews.csv.gz"))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--only", choices=["plain", "rnnops"], help="run one side only")
    parser.add_argument("--rnnops-batch", type=int, help="also run (b) with this batch size")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_TRACKING_URI", "sqlite:///" + tempfile.mkdtemp() + "/bench.db")
    prep = prepared_imdb(args.imdb_path, args.seed)
    n = len(prep.arrays["train"][1])
    print(f"IMDB: {n} train / {len(prep.arrays['val'][1])} val / {len(prep.arrays['test'][1])} test reviews")
    results = {}
    if args.only in (None, "plain"):
        results["plain"] = plain_recipe(prep.arrays, args.epochs, args.seed)
    if args.only in (None, "rnnops"):
        with tempfile.TemporaryDirectory() as tmp:
            results["rnnops"] = rnnops_pipeline(prep.arrays, args.epochs, args.seed, Path(tmp))
            if args.rnnops_batch:
                results[f"rnnops-b{args.rnnops_batch}"] = rnnops_pipeline(
                    prep.arrays, args.epochs, args.seed, Path(tmp) / "b", args.rnnops_batch)
    for name, (seconds, accuracy) in results.items():
        print(f"{name:12s}: {n / seconds:7.0f} samples/s  {seconds:6.1f} s/epoch (median of {args.epochs})  "
              f"test accuracy {accuracy:.4f}")
    for name in results:
        if name != "plain" and "plain" in results:
            print(f"speed-up ({name} / plain, samples/s): {results['plain'][0] / results[name][0]:.2f}x")


if __name__ == "__main__":
    main()
