"""The seq2seq task's report part: every encoder-decoder, the ensemble and the translation-memory
peer on validation and test (exact match, CER, chrF, BLEU), test exact match by source length
and by seen / held-out format, sample translations of the winner, and the figures: validation
curves, the candidates' test exact match, the winner's attention maps."""
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
    outputs = paths["evaluation"] / "test_outputs.parquet"
    return {
        "data": _read(paths["data_stats"]), "spec": _read(paths["prepared"] / "spec.json"),
        "history": {n: pd.read_csv(paths["histories"] / f"{n}.csv") for n in names
                    if (paths["histories"] / f"{n}.csv").exists()},
        "evaluate": _read(paths["evaluate_metrics"]), "winner": _read(paths["evaluation"] / "winner.json"),
        "scores": details.get("scores", {}), "weights": details.get("weights", {}),
        "outputs": pd.read_parquet(outputs) if outputs.exists() else pd.DataFrame(),
        "attention": sorted((paths["evaluation"] / "attention").glob("*.png")),
        "registry": _read(paths["evaluation"] / "registry.json"),
        "tune": _read(paths["tune_summary"]), "best": _read(paths["best"]),
    }


def experiment_key(inputs: dict) -> str:
    return inputs["spec"]["dataset"]


def curves(inputs: dict) -> pd.DataFrame:
    """plots/curves.csv: teacher-forced validation loss and accuracy per model and epoch, long form."""
    columns = ["model", "epoch", "val_loss", "val_accuracy"]
    frames = [h[["epoch", "val_loss", "val_accuracy"]].assign(model=n) for n, h in sorted(inputs["history"].items())
              if "val_loss" in h]
    return pd.concat(frames)[columns] if frames else pd.DataFrame(columns=columns)


def candidates_table(inputs: dict) -> pd.DataFrame:
    winner = inputs["winner"]["winner"]
    rows = []
    for n, d in inputs["scores"].items():
        kind = "ensemble" if n == "greedy" else "baseline" if not inputs["weights"].get(n) else "model"
        groups = d.get("test_by_group", {})
        rows.append({"candidate": n + (" (winner)" if n == winner else ""), "kind": kind,
                     "val exact": d["val"]["exact_match"], "test exact": d["test"]["exact_match"],
                     "test CER": d["test"]["cer"], "test chrF": d["test"]["chrf"], "test BLEU": d["test"]["bleu"],
                     **{f"exact, {g}": v["exact_match"] for g, v in groups.items() if len(groups) > 1}})
    return pd.DataFrame(rows).sort_values("val exact", ascending=False, kind="stable")


def by_length_table(inputs: dict) -> pd.DataFrame:
    rows = {n: {b: v["exact_match"] for b, v in d.get("test_by_length", {}).items()} for n, d in inputs["scores"].items()}
    table = pd.DataFrame(rows).sort_index()
    counts = next(iter(inputs["scores"].values()), {}).get("test_by_length", {})
    table.insert(0, "pairs", [counts.get(b, {}).get("pairs") for b in table.index])
    return table.rename_axis("source tokens").reset_index()


def examples_table(outputs: pd.DataFrame, count: int = 12) -> pd.DataFrame:
    """The first test translations, then every wrong one among the first 200 (up to `count`)."""
    if outputs.empty:
        return outputs
    wrong = outputs[outputs["output"] != outputs["reference"]].head(count // 2)
    shown = pd.concat([outputs.head(count - len(wrong)), wrong]).drop_duplicates()
    return shown.assign(ok=(shown["output"] == shown["reference"]).map({True: "yes", False: "**no**"}))[
        ["source", "reference", "output", "ok", "group"]].map(lambda v: str(v).replace("|", "\\|"))


def markdown(inputs: dict, figs: dict[str, Path], base: Path) -> str:
    data, spec, chosen, ev = inputs["data"], inputs["spec"], inputs["winner"], inputs["evaluate"]
    lines = [f"# rnnops report: {spec.get('dataset', '?')}", "", "## Data", "",
             f"- source {spec.get('source_level')}s (vocabulary {spec.get('source_vocab_size')}), target "
             f"{spec.get('target_level')}s (vocabulary {spec.get('target_vocab_size')}); fitted on training pairs",
             f"- pairs per split {data.get('pairs')}; {data.get('cut_for_length')} cut for length; groups "
             f"{data.get('groups')}", "",
             "## Candidates (chosen on validation exact match, scored once on test)", "",
             "Exact match is the share of outputs equal to the reference; CER is character edits per reference "
             "character; chrF and BLEU are sacrebleu's (corpus level). Memory is the translation-memory peer.", "",
             candidates_table(inputs).to_markdown(index=False, floatfmt=".4f"), "",
             f"Winner: **{chosen['winner']}** {chosen['weights']} (test exact match {ev['test']['exact_match']:.4f}, "
             f"chrF {ev['test']['chrf']:.2f}). The saved model reproduced all {chosen['end_to_end']['test_pairs']} "
             "test outputs exactly.", "",
             "## Test exact match by source length", "",
             by_length_table(inputs).to_markdown(index=False, floatfmt=".4f"), "",
             "## Test translations of the winner", "", examples_table(inputs["outputs"]).to_markdown(index=False), ""]
    figures = [("Validation loss per epoch (teacher forced)", "curves"), ("Test exact match, every candidate",
                                                                          "candidates")]
    figures += [(f"Attention map {i + 1}", f"attention_{i}") for i in range(len(inputs["attention"]))]
    lines += closing_sections(inputs, [(title, figs[key]) for title, key in figures], base)
    return "\n".join(lines)


def write(inputs: dict, out: Path, curves_path: Path) -> None:
    import shutil

    curves(inputs).to_csv(curves_path, index=False, float_format="%.6g")
    folder = out / "figures"
    folder.mkdir(parents=True)
    exact = {n: d["test"]["exact_match"] for n, d in inputs["scores"].items()}
    figs = {"curves": plots.validation_curves(inputs["history"], folder / "training_curves.png", "accuracy"),
            "candidates": plots.model_comparison(exact, inputs["winner"]["winner"], folder / "candidates.png",
                                                 "test exact match")}
    for i, path in enumerate(inputs["attention"]):
        figs[f"attention_{i}"] = Path(shutil.copyfile(path, folder / path.name))
    text = markdown(inputs, figs, out)
    (out / "report.md").write_text(text + "\n", encoding="utf-8")
    (out / "report.html").write_text(html(text, out), encoding="utf-8")


def log_to_mlflow(inputs: dict, folder: Path) -> None:
    import mlflow

    mlflow.log_metrics({f"winner_test.{k}": v for k, v in inputs["evaluate"]["test"].items()})
    mlflow.log_artifacts(str(folder), "report")
