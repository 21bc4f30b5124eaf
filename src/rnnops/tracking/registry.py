"""The MLflow model registry: the evaluate stage's winner as `rnnops-<dataset>`, and the aliases.

`champion` moves to a new version only when its test metric beats the current champion's on the
same test split (same sha256 of raw test texts and labels); otherwise the new version is the
`challenger`. The decision is printed, and tagged on the version and on the evaluate run.
"""
from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

CHAMPION, CHALLENGER = "champion", "challenger"


def registered_model_name(dataset: str) -> str:
    """The one spelling of a dataset's registered model (and of its MLflow experiment)."""
    return f"rnnops-{dataset}"


def log_winner(weights: dict[str, float], model_dirs: dict[str, Path], labels_path: Path, name: str):
    """Log the winner (one model or a weighted ensemble of text models) as a raw-text pyfunc,
    registered under `name`; returns MLflow's ModelInfo (registered_model_version set)."""
    from rnnops.tracking.logged_models import log_raw_text_model

    with _winner_artifacts(weights, model_dirs, labels_path) as artifacts:
        return log_raw_text_model(artifacts, "winner", registered_model_name=name)


def save_winner(weights: dict[str, float], model_dirs: dict[str, Path], labels_path: Path,
                folder: Path) -> dict[str, str]:
    """The same model as `log_winner`'s, saved to `folder` (evaluation/model) without a tracking
    store, so a clone filled by `dvc pull` can serve it; returns {relative path: sha256} of its
    files (rnnops.tracking.manifest), which `rnnops predict --serve-uri` checks before serving."""
    from rnnops.tracking.logged_models import save_raw_text_model
    from rnnops.tracking.manifest import file_digests

    with _winner_artifacts(weights, model_dirs, labels_path) as artifacts:
        save_raw_text_model(artifacts, folder)
    return file_digests(folder)


@contextlib.contextmanager
def _winner_artifacts(weights: dict[str, float], model_dirs: dict[str, Path], labels_path: Path):
    """The pyfunc's artifacts: labels, member_<i> (each member's text_model.keras) and
    ensemble.json (their weights, in a temporary folder while the model is written)."""
    artifacts = {"labels": str(labels_path)}
    members = {}
    for i, (member, weight) in enumerate(weights.items()):
        artifacts[f"member_{i}"] = str(model_dirs[member] / "text_model.keras")
        members[f"member_{i}"] = weight
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "ensemble.json"
        spec.write_text(json.dumps({"members": members, "names": list(weights)}, indent=2))
        artifacts["ensemble"] = str(spec)
        yield artifacts


def promote(name: str, version: str, metric: str, value: float, split_sha256: str,
            higher_is_better: bool = True) -> dict:
    """Set `champion` or `challenger` on `version`; returns the decision and both numbers
    (`higher_is_better` False for errors such as MASE: the champion is the lower)."""
    import mlflow

    client = mlflow.MlflowClient()
    previous = {alias: _version_of(client, name, alias) for alias in (CHAMPION, CHALLENGER)}
    stored = f"{value:.6f}"  # the tag's precision; both sides are compared at it
    client.set_model_version_tag(name, version, f"test.{metric}", stored)
    client.set_model_version_tag(name, version, "test_split.sha256", split_sha256)
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
    except mlflow.exceptions.MlflowException:
        current = None
    decision = {"name": name, "version": str(version), "metric": f"test.{metric}", "value": value,
                "champion_version": None, "champion_value": None}
    if current is None:
        alias, reason = CHAMPION, "no champion yet"
    else:
        old = current.tags.get(f"test.{metric}")
        decision.update(champion_version=str(current.version), champion_value=None if old is None else float(old))
        if current.tags.get("test_split.sha256") != split_sha256:
            alias, reason = CHALLENGER, "the champion was scored on another test split"
        elif old is None or (float(stored) > float(old) if higher_is_better else float(stored) < float(old)):
            alias, reason = CHAMPION, "beats the champion on the same test split"
        else:
            alias, reason = CHALLENGER, "does not beat the champion"
    client.set_registered_model_alias(name, alias, version)
    client.set_model_version_tag(name, version, "rnnops.decision", reason)
    return {**decision, "alias": alias, "reason": reason, "previous_aliases": previous}


def _version_of(client, name: str, alias: str) -> str | None:
    import mlflow

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except mlflow.exceptions.MlflowException:
        return None


def recorded(decision: dict, model_uri: str, winner: str) -> dict:
    """Tag the active (evaluate) run with `promote`'s decision; returns the decision as the
    stage keeps it (evaluation/registry.json, and what `rollback` needs)."""
    import mlflow

    mlflow.set_tags({f"registry.{k}": str(v) for k, v in decision.items() if k != "previous_aliases"})
    run = mlflow.active_run().info
    return {**decision, "model_uri": model_uri, "winner": winner, "run_id": run.run_id,
            "experiment_id": run.experiment_id}


@contextlib.contextmanager
def undone_on_failure():
    """Yields a dict the evaluate stage fills with `promote`'s decision; if anything fails after
    that (writing, committing the outputs), the registration is rolled back."""
    decision: dict = {}
    try:
        yield decision
    except BaseException:
        if decision:
            rollback(decision)
        raise


def rollback(decision: dict) -> None:
    """Undo `promote` and the registration: delete the new version (which drops its alias) and
    point the aliases back where they were. Used when the stage's outputs could not be committed."""
    import mlflow

    client = mlflow.MlflowClient()
    name, version = decision["name"], decision["version"]
    client.delete_model_version(name, version)
    for alias, old in decision["previous_aliases"].items():
        if old is not None:
            client.set_registered_model_alias(name, alias, old)
    if not client.search_model_versions(f"name='{name}'"):
        client.delete_registered_model(name)


def describe(decision: dict) -> str:
    old = decision["champion_value"]
    versus = "" if decision["champion_version"] is None else \
        f" vs champion v{decision['champion_version']} {old if old is None else f'{old:.4f}'}"
    return (f"registry: {decision['name']} v{decision['version']} -> @{decision['alias']} "
            f"({decision['metric']} {decision['value']:.4f}{versus}: {decision['reason']})")
