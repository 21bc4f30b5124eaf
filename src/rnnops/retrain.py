"""Did a retraining job make a new champion, decided against something that outlives the job.

A CI job starts from a fresh checkout with an empty local MLflow store, so comparing that store
before and after `dvc repro` decides nothing. Two references outlive a job:

- a tracking server (MLFLOW_TRACKING_URI): its registry's `@champion`. The evaluate stage already
  moves `champion` only when the new winner beats it on the same test split; the job compares
  the champion's version before and after (`snapshot`, then `from_registry`). When the evaluate
  stage did not run (its outputs came from the DVC run cache), nothing was registered.
- without a server: main's committed `metrics/evaluate.json` (`from_committed_metrics`). Better on
  the same test split (same sha256) is a new champion; another split, or no file at main, is a
  new baseline, said as such.

`scripts/retrain.sh` calls these through `rnnops retrain ...`; the decision is printed with both
numbers, written as JSON and Markdown, and put on the job's summary.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from rnnops.project import higher_is_better


@dataclass
class Decision:
    champion_changed: bool
    reason: str
    against: str                  # what the new winner was compared with
    metric: str                   # e.g. test.accuracy
    new_value: float | None       # the new winner's
    champion_value: float | None  # the reference's (None: there was none)
    new_version: str | None = None       # registry versions, when there is a server
    champion_version: str | None = None

    def line(self) -> str:
        def shown(value, version):
            number = "none" if value is None else f"{value:.4f}"
            return number if version is None else f"{number} (v{version})"
        return (f"retrain: champion changed: {'true' if self.champion_changed else 'false'}: new winner "
                f"{self.metric} {shown(self.new_value, self.new_version)} vs champion "
                f"{shown(self.champion_value, self.champion_version)} [{self.against}]: {self.reason}")

    def markdown(self) -> str:
        verdict = "**new champion**" if self.champion_changed else "**no new champion**"
        return "\n".join([
            f"### Champion decision: {verdict}", "",
            f"| | {self.metric} | registry version |", "| --- | --- | --- |",
            f"| new winner | {_number(self.new_value)} | {self.new_version or '-'} |",
            f"| champion | {_number(self.champion_value)} | {self.champion_version or '-'} |", "",
            f"Compared against {self.against}: {self.reason}.", ""])


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.5f}"


def _lookup(metrics: dict, dotted: str) -> float | None:
    node = metrics
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return float(node) if isinstance(node, (int, float)) and not isinstance(node, bool) else None


def from_committed_metrics(base: dict | None, new: dict, base_name: str) -> Decision:
    """The new metrics/evaluate.json against the one committed at `base_name` (None: absent)."""
    metric = new["promote_metric"]
    value = _lookup(new, metric)
    against = f"metrics/evaluate.json at {base_name}"
    if not base:
        return Decision(True, f"no results committed at {base_name}: this run is the first baseline",
                        against, metric, value, None)
    old = _lookup(base, metric)
    if base.get("test_split_sha256") != new["test_split_sha256"]:
        return Decision(True, (f"{base_name}'s champion was scored on another test split (sha256 "
                               f"{str(base.get('test_split_sha256'))[:12]}... vs {new['test_split_sha256'][:12]}...): "
                               "a new baseline, not a comparison"), against, metric, value, old)
    if base.get("promote_metric") != metric or old is None:
        return Decision(True, (f"{base_name} promoted on {base.get('promote_metric')}, this run on {metric}: "
                               "a new baseline, not a comparison"), against, metric, value, old)
    better = value > old if higher_is_better(metric.split(".")[-1]) else value < old
    reason = "beats the champion on the same test split" if better else "does not beat the champion on the same test split"
    return Decision(better, reason, against, metric, value, old)


def snapshot(client) -> dict:
    """Every registered model's `@champion` version and newest version, before the pipeline runs."""
    state = {}
    for model in client.search_registered_models():
        versions = client.search_model_versions(f"name='{model.name}'")
        state[model.name] = {"champion": _champion(model),
                             "latest": max((int(v.version) for v in versions), default=0)}
    return state


def _champion(model) -> str | None:
    """A RegisteredModel's `@champion` version (its aliases map alias -> version number)."""
    version = model.aliases.get("champion")
    return None if version is None else str(version)


def from_registry(client, before: dict, registry_json: dict, uri: str) -> Decision:
    """The registry after the pipeline against `snapshot`'s `before`. `registry_json` is the
    evaluate stage's evaluation/registry.json (whichever run wrote it)."""
    name, metric = registry_json["name"], registry_json["metric"]
    was = before.get(name, {"champion": None, "latest": 0})
    now = _champion(client.get_registered_model(name))
    against = f"the registry's {name}@champion at {uri}"
    champion_value = _tag_value(client, name, was["champion"], metric)
    if int(registry_json["version"]) <= was["latest"]:
        # evaluation/ came from the DVC run cache (or an earlier run): nothing new was registered.
        return Decision(False, "the evaluate stage did not run (its outputs came from the DVC run cache): "
                        "nothing new was registered", against, metric, _tag_value(client, name, now, metric),
                        champion_value, now, was["champion"])
    changed = now is not None and now != was["champion"]
    return Decision(changed, registry_json["reason"], against, metric, float(registry_json["value"]),
                    champion_value, str(registry_json["version"]), was["champion"])


def _tag_value(client, name: str, version: str | None, metric: str) -> float | None:
    if version is None:
        return None
    tag = client.get_model_version(name, version).tags.get(metric)
    return None if tag is None else float(tag)


def write(decision: Decision, out: Path) -> None:
    """decision.json and decision.md into `out` (the job's retrain/ folder)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "decision.json").write_text(json.dumps(asdict(decision), indent=2) + "\n")
    (out / "decision.md").write_text(decision.markdown())


def run_links(ui: str, registry_json: dict, run_jsons: dict[str, dict]) -> list[str]:
    """Markdown links to the evaluate run and each training run on the tracking server's UI."""
    from rnnops.tracking.runs import run_url

    links = []
    if registry_json.get("run_id"):
        links.append(f"- evaluate: [{registry_json['run_id'][:12]}]"
                     f"({run_url(ui, registry_json['experiment_id'], registry_json['run_id'])})")
    for name, record in sorted(run_jsons.items()):
        if record.get("run_id"):
            links.append(f"- train@{name}: [{record['run_id'][:12]}]"
                         f"({run_url(ui, record['experiment_id'], record['run_id'])})")
    return links


def pr_body(decision: Decision, metrics_diff: str, report_md: str, links: list[str]) -> str:
    """The pull request's text, like a CML report: the decision with both numbers, `dvc metrics
    diff` against main, the report's summary tables, and the MLflow runs (with a server)."""
    parts = ["## Retrain: new champion", "", decision.markdown(),
             "### `dvc metrics diff` against main", "", metrics_diff.strip() or "(no change)", ""]
    summary = _section(report_md, "## Ensembles versus the best member")
    if summary:
        parts += ["### Ensembles versus the best member (from reports/report.md)", "", summary, ""]
    models = _section(report_md, "## Models")
    if models:
        parts += ["<details><summary>Every model (from reports/report.md)</summary>", "", models, "", "</details>", ""]
    if links:
        parts += ["### MLflow runs", "", *links, ""]
    return "\n".join(parts)


def _section(markdown: str, heading: str) -> str:
    """The text under `heading` up to the next heading of the same level."""
    lines = markdown.splitlines()
    if heading not in lines:
        return ""
    start = lines.index(heading) + 1
    level = heading.split(" ")[0] + " "
    end = next((i for i in range(start, len(lines)) if lines[i].startswith(level)), len(lines))
    return "\n".join(lines[start:end]).strip()


def preset_overrides(preset: Path, params_path: Path, extra: list[str] = ()) -> list[str]:
    """`key=value` strings for `dvc exp run -S` from presets/<name>.yaml (a flat mapping of dotted
    params keys; `models` and `tune.space` replace their blocks, see rnnops.params.overrides) plus
    `extra` ones, checked against params.yaml's schema first: an unknown key or a bad value stops
    here, naming the preset file and the key."""
    import yaml

    from rnnops.errors import ParamsError
    from rnnops.params.load import check_overridden
    from rnnops.params.overrides import dvc_set_args

    if not preset.is_file():
        known = ", ".join(sorted(p.stem for p in preset.parent.glob("*.yaml"))) or "none"
        raise ParamsError(f"{preset}: no such preset (presets: {known}). Fix: PRESET=<one of those>, "
                          f"or add {preset} with dotted params keys (see presets/imdb.yaml).")
    settings = yaml.safe_load(preset.read_text(encoding="utf-8")) or {}
    if not isinstance(settings, dict):
        raise ParamsError(f"{preset}: expected a mapping of dotted params keys (data.source: imdb). "
                          "Fix: see presets/imdb.yaml.")
    for item in extra:
        key, sep, value = item.partition("=")
        if not sep:
            raise ParamsError(f"SET: '{item}' is not key=value. Fix: SET='data.path=/path/to/copy'.")
        settings[key] = yaml.safe_load(value)
    raw = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    sets = dvc_set_args(settings, raw, str(preset), params_path, add_keys=False)
    check_overridden(raw, str(preset), params_path)
    return sets
