"""Training speed: the plain-Keras IMDB recipe versus rnnops' input pipeline, epoch by epoch.

    python benchmarks/bench_train.py --imdb-path ../shared/data/imdb_reviews.csv.gz --epochs 4
    python benchmarks/bench_train.py --cell gru --epochs 3

All train the same LSTM (embedding 32, LSTM 32, sigmoid head; vocabulary 10k; max_len 500) on
the same prepared IMDB token ids for the same number of epochs (`--cell gru`: the same with a
GRU, `keras.layers.GRU` in (a), rnnops' GRU with its lean CPU loop in (b) and (c)):
  (a) plain recipe: every review padded (and cut) to 500 tokens, NumPy arrays into `fit`,
      batch 128, RMSprop 1e-3;
  (b) rnnops, same settings: the model, compile step and tf.data pipeline `train@lstm` uses
      (`build_model`: masked embedding and rnnops' LSTM with its fused CPU loop; `compile_model`;
      `fit_datasets`: length buckets, each batch padded to its own longest review, prefetch)
      with the recipe's batch 128 and RMSprop 1e-3;
  (c) rnnops, its own settings: the same with the optimizer, learning rate, clipping and batch
      size of params.yaml's `train:` block (`--batch` overrides the batch size).
The variants take turns, one epoch each (validation included), so a machine whose speed drifts
slows all of them alike; each epoch's time is compared with the plain recipe's epoch of the same
round. Prints every round, then per variant the median samples/s and speed-up over rounds 2+
(round 1 includes graph building), the whole-run ratio, and the official-test accuracy after the
epoch with the lowest validation loss (what early stopping with restored weights keeps; scored
outside the timed epochs) and after the last epoch.
"""
import argparse
import os
import statistics
import time
import warnings
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
VOCAB, MAX_LEN = 10_000, 500


def prepared_imdb(path: str, seed: int):
    from rnnops.params.load import Params
    from rnnops.stages.prepare import prepare

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["data"].update(source="imdb", path=path, vocab_size=VOCAB, max_len=MAX_LEN,
                       truncation="pre", padding="pre")  # Keras pad_sequences' defaults
    raw["seed"] = seed
    raw["models"] = {}
    return prepare(Params.model_validate(raw))


def plain_recipe(arrays, cell: str = "lstm"):
    """(model, fit arguments, test accuracy function) of the plain-Keras recipe."""
    import keras

    recurrent = keras.layers.GRU if cell == "gru" else keras.layers.LSTM
    model = keras.Sequential([keras.Input((MAX_LEN,), dtype="int32"), keras.layers.Embedding(VOCAB, 32),
                              recurrent(32), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    (x, y), (xv, yv), (xt, yt) = arrays["train"], arrays["val"], arrays["test"]
    fit = dict(x=x, y=y, batch_size=128, validation_data=(xv, yv))
    return model, fit, lambda: float(((model.predict(xt, batch_size=512, verbose=0).ravel() > 0.5) == yt).mean())


def rnnops_pipeline(arrays, seed: int, cell: str = "lstm", **settings):
    """The same, through rnnops' model builder, compile step and tf.data pipeline."""
    from rnnops.models.fused_gru import GRU
    from rnnops.models.bodies import DatasetSpec, build_model
    from rnnops.params.architectures import ARCHITECTURES
    from rnnops.params.schema import TrainParams
    from rnnops.data.batches import fit_datasets, predict_proba
    from rnnops.training.fit import compile_model

    train = TrainParams.model_validate({**yaml.safe_load((ROOT / "params.yaml").read_text())["train"], **settings})
    spec = DatasetSpec(VOCAB + 2, 2, MAX_LEN)
    model = build_model(cell, ARCHITECTURES[cell](embedding_dim=32, units=32, dropout=0.0), spec)
    assert cell != "gru" or any(isinstance(layer, GRU) for layer in model.layers)
    compile_model(model, spec, train)
    data, val = fit_datasets(arrays, 2, train.batch_size, train.length_buckets, seed)  # as fit_model
    xt, yt = arrays["test"]
    return model, dict(x=data, validation_data=val), \
        lambda: float((predict_proba(model, xt, 2).argmax(axis=1) == yt).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--imdb-path", default=str(ROOT.parent / "shared" / "data" / "imdb_reviews.csv.gz"))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--batch", type=int, help="(c): this batch size instead of params.yaml's")
    parser.add_argument("--cell", choices=("lstm", "gru"), default="lstm", help="the recurrent layer")
    args = parser.parse_args()
    from rnnops.training.fit import set_determinism

    warnings.filterwarnings("ignore", message=".*(ran out of data|`shuffle=True` was passed).*")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    prep = prepared_imdb(args.imdb_path, args.seed).data
    n = len(prep.arrays["train"][1])
    print(f"IMDB: {n} train / {len(prep.arrays['val'][1])} val / {len(prep.arrays['test'][1])} test reviews")
    set_determinism(args.seed)
    variants = {"(a) plain recipe": plain_recipe(prep.arrays, args.cell),
                "(b) rnnops, same settings": rnnops_pipeline(prep.arrays, args.seed, args.cell, batch_size=128,
                                                             optimizer="rmsprop", learning_rate=1e-3, clipnorm=None),
                "(c) rnnops, own settings": rnnops_pipeline(prep.arrays, args.seed, args.cell,
                                                            **({"batch_size": args.batch} if args.batch else {}))}
    seconds = {name: [] for name in variants}
    scores = {name: [] for name in variants}  # (val loss, test accuracy) after each epoch
    for epoch in range(args.epochs):
        for name, (model, fit, test_accuracy) in variants.items():
            start = time.perf_counter()
            history = model.fit(**fit, initial_epoch=epoch, epochs=epoch + 1, verbose=0)
            seconds[name].append(time.perf_counter() - start)
            scores[name].append((history.history["val_loss"][-1], test_accuracy()))
        print(f"round {epoch + 1}: " + "  ".join(f"{name[:3]} {s[-1]:5.1f} s" for name, s in seconds.items()), flush=True)
    plain = seconds["(a) plain recipe"]
    later = slice(1, None) if args.epochs > 1 else slice(None)
    for name in variants:
        s, best = seconds[name], min(scores[name])  # lowest validation loss
        ratios = [p / t for p, t in zip(plain[later], s[later])]
        print(f"{name:27s}: {n / statistics.median(s[later]):6.0f} samples/s (median epoch incl. validation)  "
              f"speed-up {statistics.median(ratios):.2f}x (median of rounds; {min(ratios):.2f}-{max(ratios):.2f}), "
              f"whole run {sum(plain) / sum(s):.2f}x  test accuracy {best[1]:.4f} "
              f"(epoch {scores[name].index(best) + 1}; last {scores[name][-1][1]:.4f})")


if __name__ == "__main__":
    main()
