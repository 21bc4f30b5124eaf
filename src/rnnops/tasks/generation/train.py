"""The generation task's train part: windows of the training stream through the shared loop
(rnnops.training.fit: every position learns its next token), samples at the fixed prompts after
every epoch, then held-out probabilities of every val and test token (what evaluate combines)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rnnops.models.bodies import DatasetSpec
from rnnops.models.keras_io import save_keras
from rnnops.project import flatten, sha256_file
from rnnops.tasks.generation.params import GenerationParams
from rnnops.tasks.generation.prepared import PreparedCorpus
from rnnops.tasks.generation.scoring import lm_scores, token_probabilities
from rnnops.training.fit import FitResult, facts, fit_model, history_by_epoch  # noqa: F401 - facts: a part

QUALITY = ("bits_per_token", "perplexity")


def fit_inputs(params: GenerationParams, prepared: PreparedCorpus):
    vocab = prepared.spec["vocab_size"]
    spec = DatasetSpec(vocab_size=vocab, num_classes=vocab, max_len=params.train.seq_len, sequence=True)
    return spec, prepared.arrays, None


def samples(model, prepared: PreparedCorpus, sampling, seed: int) -> list[dict]:
    """Each prompt continued at each temperature (seeded): what the report and MLflow show."""
    from rnnops.tasks.generation.decoding import Stepper, generate

    stepper, vocabulary = Stepper.from_keras(model), prepared.vocabulary
    rows = []
    for prompt in sampling.prompts:
        for temperature in sampling.temperatures:
            ids = generate(stepper, vocabulary.prompt(prompt), sampling.max_tokens, seed=seed,
                           temperature=temperature)
            rows.append({"prompt": prompt, "temperature": temperature, "text": vocabulary.decode(ids)})
    return rows


def samples_text(rows: list[dict]) -> str:
    return "".join(f"[T={r['temperature']}] {r['prompt']!r} -> {r['prompt']}{r['text']}\n" for r in rows)


def sample_logger(prepared: PreparedCorpus, params: GenerationParams):
    """A Keras callback logging samples/epoch_NNN.txt to the active MLflow run after each epoch,
    so the run's artifacts show generation improving."""
    import keras
    import mlflow

    class SampleLogger(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if mlflow.active_run() is not None:
                rows = samples(self.model, prepared, params.sampling, params.seed)
                mlflow.log_text(samples_text(rows), f"samples/epoch_{epoch + 1:03d}.txt")

    return SampleLogger()


def train(params: GenerationParams, name: str, prepared: PreparedCorpus) -> FitResult:
    arch, model_params = params.model(name)
    spec, arrays, _ = fit_inputs(params, prepared)
    extra = [sample_logger(prepared, params)] if params.sampling.every_epoch else []
    result = fit_model(arch, model_params, params.train, spec, arrays, params.seed, extra_callbacks=extra,
                       evaluate_splits=())
    for split in ("val", "test"):  # every token of the split, scored like the peer and the ensembles
        probabilities = token_probabilities(result.model, prepared.streams[split], params.train.seq_len)
        result.predictions[split] = probabilities
        result.metrics[split] = lm_scores(probabilities)
    result.samples = samples(result.model, prepared, params.sampling, params.seed)
    result.model_seq_len = params.train.seq_len
    return result


def run_params(params: GenerationParams, name: str, prepared: PreparedCorpus) -> dict:
    arch, model_params = params.model(name)
    return flatten({"seed": params.seed, "architecture": arch, "train": params.train.model_dump(),
                    "models": {name: model_params.model_dump(exclude={"architecture"})},
                    "dataset": {k: prepared.spec[k] for k in ("dataset", "level", "vocab_size")}})


def tags(prepared: PreparedCorpus) -> dict:
    return {"data.sha256": prepared.spec["source_sha256"]}


def scores(result: FitResult) -> dict:
    """metrics/train/<name>.json: the same keys in every generation metrics file."""
    return {s: {k: round(result.metrics[s][k], 5) for k in QUALITY} for s in ("val", "test")}


def describe(name: str, scores: dict, facts: dict) -> str:
    return (f"train@{name}: val {scores['val']['bits_per_token']:.4f} bits/token, test "
            f"{scores['test']['bits_per_token']:.4f} bits/token (perplexity {scores['test']['perplexity']:.3f}), "
            f"{facts['samples_per_second']:.0f} tokens/s")


def write(result: FitResult, prepared: PreparedCorpus, metrics: dict, model_dir: Path, metrics_path: Path,
          plot_path: Path) -> None:
    """model.keras (token ids in, next-token probabilities at every step out), lm.json (the
    window it was trained and scored with), token_probs.npz (val and test), samples.json,
    metrics, history."""
    model_dir.mkdir(parents=True, exist_ok=True)
    save_keras(result.model, model_dir / "model.keras")
    (model_dir / "lm.json").write_text(json.dumps({"seq_len": int(result.model_seq_len)}) + "\n")
    np.savez(model_dir / "token_probs.npz", val=result.predictions["val"], test=result.predictions["test"])
    (model_dir / "samples.json").write_text(json.dumps(result.samples, indent=2, ensure_ascii=False) + "\n")
    metrics_path.write_text(json.dumps(metrics, indent=2) + "\n")
    history_by_epoch(result).to_csv(plot_path, index=False, float_format="%.6g")


def log_to_mlflow(result: FitResult, prepared: PreparedCorpus, metrics: dict, training: dict, model_dir: Path,
                  metrics_path: Path, plot_path: Path) -> dict:
    """Scores and facts, curves, the final samples, the Keras model and this one model's
    generator pyfunc (prompts in, text out); returns run.json."""
    import tempfile

    import mlflow

    from rnnops import plots
    from rnnops.tasks.generation.publish import log_generator
    from rnnops.tracking.logged_models import log_keras_model
    from rnnops.tracking.runs import log_metrics_tree

    log_metrics_tree({**metrics, **{k: v for k, v in training.items() if k not in ("model", "architecture")}})
    with tempfile.TemporaryDirectory() as tmp:
        plots.training_curves(history_by_epoch(result), Path(tmp) / "training_curves.png", ("loss", "accuracy"))
        mlflow.log_artifacts(tmp, "plots")
    mlflow.log_text(samples_text(result.samples), "samples/final.txt")
    mlflow.log_artifact(str(plot_path), "history")
    mlflow.log_artifact(str(metrics_path), "metrics")
    example = prepared.streams["val"][: min(32, result.model_seq_len)][None, :]
    model_info = log_keras_model(result.model, "model", example)
    generator = log_generator({training["model"]: 1.0}, {training["model"]: model_dir}, None, prepared, "generator")
    run = mlflow.active_run()
    return {
        "run_id": run.info.run_id, "experiment_id": run.info.experiment_id,
        "tracking_uri": mlflow.get_tracking_uri(), "model_uri": model_info.model_uri,
        "generator_uri": generator.model_uri, "training": training,
        "sha256": {f: sha256_file(model_dir / f) for f in ("model.keras", "token_probs.npz")},
    }
