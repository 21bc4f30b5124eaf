"""Training speed: the plain-Keras IMDB recipe versus rnnops' input pipeline, in one process.

    python benchmarks/bench_train.py --imdb-path ../shared/data/imdb_reviews.csv.gz --epochs 4

All train the same LSTM (embedding 32, LSTM 32, sigmoid head; vocabulary 10k; max_len 500) on
the same prepared IMDB token ids for the same number of epochs:
  (a) plain recipe: every review padded (and cut) to 500 tokens, NumPy arrays into `fit`,
      batch 128, RMSprop 1e-3;
  (b) rnnops, same settings: `rnnops.train.fit_model` (tf.data, length buckets, masking,
      prefetch) with the recipe's batch 128 and RMSprop 1e-3: the input pipeline alone;
  (c) rnnops, its own settings: the `train:` block of params.yaml (batch size, optimizer,
      learning rate, clipping; `--batch` overrides the batch size): what `train@lstm` runs.
Prints samples/second and seconds per epoch (median over epochs, so one slow epoch on a shared
machine does not skew it), whole-fit seconds, official-test accuracy of each, and the ratios.
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
    start = time.perf_counter()
    model.fit(x, y, batch_size=128, epochs=epochs, validation_data=(xv, yv), verbose=2, callbacks=[timer])
    seconds = time.perf_counter() - start
    accuracy = float(((model.predict(xt, batch_size=512, verbose=0).ravel() > 0.5) == yt).mean())
    return statistics.median(timer.times), seconds, accuracy


def rnnops_pipeline(arrays, epochs: int, seed: int, workdir: Path, **settings):
    from rnnops.architectures import REGISTRY, DatasetSpec
    from rnnops.config import TrainParams
    from rnnops.train import fit_model

    train = yaml.safe_load((ROOT / "params.yaml").read_text())["train"]
    # Every epoch runs (no early stop), so all sides train the same number of epochs.
    train.update(epochs=epochs, early_stopping={"monitor": "val_loss", "patience": epochs}, **settings)
    params = REGISTRY["lstm"].params(embedding_dim=32, units=32, dropout=0.0)
    timer = epoch_timer()
    result = fit_model("lstm", params, TrainParams.model_validate(train), DatasetSpec(10_002, 2, 500),
                       arrays, seed, workdir, extra_callbacks=[timer], evaluate_splits=("test",))
    return statistics.median(timer.times), result.seconds, result.metrics["test"]["accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--imdb-path", default=str(ROOT.parent / "shared" / "data" / "imdb_reviews.csv.gz"))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--only", choices=["plain", "same", "own"], help="run one of (a), (b), (c) only")
    parser.add_argument("--batch", type=int, help="(c): this batch size instead of params.yaml's")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_TRACKING_URI", "sqlite:///" + tempfile.mkdtemp() + "/bench.db")
    prep = prepared_imdb(args.imdb_path, args.seed)
    n = len(prep.arrays["train"][1])
    print(f"IMDB: {n} train / {len(prep.arrays['val'][1])} val / {len(prep.arrays['test'][1])} test reviews")
    runs = {"plain": lambda tmp: plain_recipe(prep.arrays, args.epochs, args.seed),
            "same": lambda tmp: rnnops_pipeline(prep.arrays, args.epochs, args.seed, tmp, batch_size=128,
                                                optimizer="rmsprop", learning_rate=1e-3, clipnorm=None),
            "own": lambda tmp: rnnops_pipeline(prep.arrays, args.epochs, args.seed, tmp,
                                               **({"batch_size": args.batch} if args.batch else {}))}
    names = {"plain": "(a) plain recipe", "same": "(b) rnnops, same settings", "own": "(c) rnnops, own settings"}
    results = {}
    for key, train in runs.items():
        if args.only in (None, key):
            with tempfile.TemporaryDirectory() as tmp:
                results[key] = train(Path(tmp))
    for key, (epoch, whole, accuracy) in results.items():
        print(f"{names[key]:27s}: {n / epoch:6.0f} samples/s  {epoch:5.1f} s/epoch (median of {args.epochs})  "
              f"fit {whole:5.0f} s  test accuracy {accuracy:.4f}")
    for key in results:
        if key != "plain" and "plain" in results:
            print(f"speed-up {names[key]} / plain: {results['plain'][0] / results[key][0]:.2f}x samples/s, "
                  f"{results['plain'][1] / results[key][1]:.2f}x whole fit")


if __name__ == "__main__":
    main()
