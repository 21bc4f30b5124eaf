"""The forecasting task's prepare part: load and validate a series, split it by time (never
shuffled; the last part is test), scale with training statistics only, cut windows. The format it
writes is `rnnops.tasks.forecast.windows`'."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rnnops.tasks.forecast import windows
from rnnops.tasks.forecast.params import ForecastDataParams, ForecastParams
from rnnops.tasks.forecast.series import load_series
from rnnops.tasks.forecast.windows import SPLITS, PreparedSeries, load  # noqa: F401 - load: a part


@dataclass
class Prepared:
    data: PreparedSeries
    stats: dict                        # data/stats.json (facts; not a DVC metric)
    plots: dict[str, pd.DataFrame]     # plots/data/*.csv


def series_name(data: ForecastDataParams) -> str:
    """co2, sunspots, nile, sine, or the CSV file's stem (as rnnops.tasks.forecast.series names it)."""
    if data.source != "csv":
        return data.source
    stem = Path(data.path).name.split(".")[0].lower()
    return re.sub(r"[^a-z0-9_-]", "-", stem) or "series"


def experiment_key(params: ForecastParams) -> str:
    """MLflow experiment rnnops-forecast-<series>; also the registered model's name."""
    return f"forecast-{series_name(params.data)}"


def run_params(params: ForecastParams) -> dict:
    return {"seed": params.seed, "data": params.data.model_dump()}


def prepare(params: ForecastParams) -> Prepared:
    series = load_series(params.data, params.seed)
    data = windows.build(series, params.data)
    data.spec["series"] = series.name
    data.spec["dataset"] = f"forecast-{series.name}"   # experiment and registered model key
    times = data.series.index
    stats = {
        "dataset": data.spec["dataset"], "source_sha256": series.sha256, "origin": series.origin,
        "steps": len(times), "frequency": series.frequency, "start": times[0].isoformat(),
        "end": times[-1].isoformat(), "filled": series.filled,
        "steps_per_split": {s: b[1] - b[0] for s, b in data.spec["bounds"].items()},
        "windows": data.spec["windows"], "periods": data.spec["periods"],
    }
    split = pd.Series("train", index=times)
    for s in ("val", "test"):
        start, end = data.spec["bounds"][s]
        split.iloc[start:end] = s
    table = pd.DataFrame({"time": times.strftime("%Y-%m-%d %H:%M:%S").str.replace(" 00:00:00", ""),
                          "value": data.series[series.target].to_numpy(), "split": split.to_numpy()})
    return Prepared(data, stats, {"series.csv": table})


def describe(prep: Prepared, out: Path) -> str:
    s = prep.stats
    return (f"{s['dataset']}: {s['steps']} steps of {s['frequency']} ({s['filled']} filled), windows "
            f"{s['windows']} (window {prep.data.spec['window']}, horizon {prep.data.spec['horizon']}) -> {out}")


def write(prep: Prepared, out_dir: Path, stats_path: Path, plots_dir: Path) -> None:
    """Write every output into the (temporary) paths given; see rnnops.atomic for the commit."""
    prep.data.write(out_dir)
    stats_path.write_text(json.dumps(prep.stats, indent=2) + "\n")
    plots_dir.mkdir(parents=True)
    for name, table in prep.plots.items():
        table.to_csv(plots_dir / name, index=False, float_format="%.6g")


def log_to_mlflow(prep: Prepared, out_dir: Path, stats_path: Path, plots_dir: Path) -> None:
    """Facts as MLflow metrics, the series by split as a figure, the spec and the plot table."""
    import tempfile

    import mlflow

    from rnnops import plots
    from rnnops.tracking.runs import log_dataset_input, log_metrics_tree

    mlflow.set_tag("data.sha256", prep.stats["source_sha256"])
    log_dataset_input(prep.data.dataset, prep.stats["origin"], prep.stats["source_sha256"], "source")
    log_metrics_tree({k: prep.stats[k] for k in ("steps", "filled", "steps_per_split", "windows")})
    with tempfile.TemporaryDirectory() as tmp:
        plots.series_by_split(prep.plots["series.csv"], Path(tmp) / "series.png")
        mlflow.log_artifacts(tmp, "plots")
    mlflow.log_artifacts(str(plots_dir), "plots")
    mlflow.log_artifact(str(out_dir / "spec.json"), "prepared")
    mlflow.log_artifact(str(stats_path), "stats")
