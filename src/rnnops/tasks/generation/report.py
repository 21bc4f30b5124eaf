"""The generation task's report part: every language model, the n-gram peer and the ensembles
on validation and test (bits per token, perplexity), the winner's samples at the fixed prompts,
each model's final samples, and the figures: validation curves and the candidates' test bits."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from rnnops import plots
from rnnops.report_html import closing_sections, html

# flag of pipeline/report.py -> default path (dvc.yaml passes every one)
INPUTS = {"data-stats": "data/stats.json", "prepared": "data/prepared", "histories": "plots/train",
          "models": "models", "evaluate-metrics": "metrics/evaluate.json", "evaluation": "evaluation",
          "tune-summary": "tuning/study.json", "best": "tuning/best_params.json"}


def _read(path: Path):
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def collect(paths: dict[str, Path], names: list[str]) -> dict:
    details = _read(paths["evaluation"] / "details.json")
    return {
        "data": _read(paths["data_stats"]), "spec": _read(paths["prepared"] / "spec.json"),
        "history": {n: pd.read_csv(paths["histories"] / f"{n}.csv") for n in names
                    if (paths["histories"] / f"{n}.csv").exists()},
        "model_samples": {n: _read(paths["models"] / n / "samples.json") for n in names
                          if (paths["models"] / n / "samples.json").exists()},
        "evaluate": _read(paths["evaluate_metrics"]), "winner": _read(paths["evaluation"] / "winner.json"),
        "scores": details.get("scores", {}), "samples": _read(paths["evaluation"] / "samples.json") or [],
        "registry": _read(paths["evaluation"] / "registry.json"),
        "tune": _read(paths["tune_summary"]), "best": _read(paths["best"]),
    }


def experiment_key(inputs: dict) -> str:
    return inputs["spec"]["dataset"]


def curves(inputs: dict) -> pd.DataFrame:
    """plots/curves.csv: validation loss (nats per token) per model and epoch, long form."""
    columns = ["model", "epoch", "val_loss", "val_accuracy"]
    frames = [h[["epoch", "val_loss", "val_accuracy"]].assign(model=n) for n, h in sorted(inputs["history"].items())
              if "val_loss" in h]
    return pd.concat(frames)[columns] if frames else pd.DataFrame(columns=columns)


def candidates_table(inputs: dict, names: list[str]) -> pd.DataFrame:
    winner = inputs["winner"]["winner"]
    rows = [{"candidate": n + (" (winner)" if n == winner else ""),
             "kind": "ensemble" if n in ("average", "greedy") else ("model" if n in names else "baseline"),
             "val bits/token": d["val"]["bits_per_token"], "test bits/token": d["test"]["bits_per_token"],
             "test perplexity": d["test"]["perplexity"]} for n, d in inputs["scores"].items()]
    return pd.DataFrame(rows).sort_values("val bits/token", kind="stable")


def samples_table(rows: list[dict]) -> pd.DataFrame:
    # Markdown tables cannot hold line breaks; they are shown as ⏎.
    return pd.DataFrame([{"prompt": repr(r["prompt"]), "T": r["temperature"],
                          "text": (r["prompt"] + r["text"]).replace("\r", "").replace("\n", " ⏎ ").replace("|", "\\|")}
                         for r in rows])


def markdown(inputs: dict, figs: dict[str, Path], base: Path) -> str:
    data, spec, chosen, ev = inputs["data"], inputs["spec"], inputs["winner"], inputs["evaluate"]
    names = list(inputs["history"])
    unit = "bits per character" if spec.get("level") == "char" else "bits per word (perplexity = 2^bits)"
    lines = [f"# rnnops report: {spec.get('dataset', '?')}", "", "## Data", "",
             f"- {spec.get('level')}-level tokens, vocabulary {spec.get('vocab_size')} (fitted on training documents)",
             f"- documents per split {data.get('documents')}; tokens {data.get('tokens')}; unknown share "
             f"{data.get('unknown_share')}", "",
             "## Candidates (chosen on validation, scored once on test)", "",
             f"Scores are held-out cross-entropy in {unit}, over every token of the split after the first "
             "(document ends included); the n-gram peer is interpolated Kneser-Ney on the same tokens "
             f"(order by validation bits: {chosen.get('ngram_order_bits')}).", "",
             candidates_table(inputs, names).to_markdown(index=False, floatfmt=".4f"), "",
             f"Winner on {chosen['selection_metric']}: **{chosen['winner']}** {chosen['weights']} (test "
             f"{ev['test']['bits_per_token']:.4f} bits/token, perplexity {ev['test']['perplexity']:.3f}). The "
             f"served model rescoring the test documents gives {chosen['end_to_end']['test_bits_per_token']:.4f}.", "",
             "## Samples of the winner", "", samples_table(inputs["samples"]).to_markdown(index=False), ""]
    for name, rows in inputs["model_samples"].items():
        lines += [f"### {name}: samples after training", "", samples_table(rows).to_markdown(index=False), ""]
    lines += ["Every epoch's samples are in each train run's MLflow artifacts (`samples/epoch_NNN.txt`).", ""]
    figures = [("Validation loss per epoch", "curves"), ("Test bits per token, every candidate", "candidates")]
    lines += closing_sections(inputs, [(title, figs[key]) for title, key in figures], base)
    return "\n".join(lines)


def write(inputs: dict, out: Path, curves_path: Path) -> None:
    curves(inputs).to_csv(curves_path, index=False, float_format="%.6g")
    folder = out / "figures"
    folder.mkdir(parents=True)
    test_bits = {n: d["test"]["bits_per_token"] for n, d in inputs["scores"].items()}
    figs = {"curves": plots.validation_curves(inputs["history"], folder / "training_curves.png", "accuracy"),
            "candidates": plots.model_comparison(test_bits, inputs["winner"]["winner"], folder / "candidates.png",
                                                 "test bits per token", lower_is_better=True)}
    text = markdown(inputs, figs, out)
    (out / "report.md").write_text(text + "\n", encoding="utf-8")
    (out / "report.html").write_text(html(text, out), encoding="utf-8")


def log_to_mlflow(inputs: dict, folder: Path) -> None:
    import mlflow

    mlflow.log_metrics({f"winner_test.{k}": v for k, v in inputs["evaluate"]["test"].items()})
    mlflow.log_artifacts(str(folder), "report")
