"""The `rnnops` command: classify raw text, and look after the project's MLflow runs.

    rnnops predict "what a lovely day" "the flight was late"   # the registry champion
    rnnops predict --file reviews.txt --json                     # one text per line
    cat reviews.txt | rnnops predict --model models/lstm          # a trained model folder
    rnnops predict --model models:/rnnops-tweets@challenger "..."
    rnnops predict --model winner "..."   # the evaluate stage's winner from the pulled files
    rnnops forecast --history weeks.csv   # the forecasting champion's next `horizon` values
    rnnops predict --params regression/params.yaml --file rows.csv   # the regression champion's numbers
    rnnops generate "I love " --max-chars 200 --temperature 0.8       # the generation champion's text
    rnnops translate "3 mars 1998" "March 3, 1998"                     # the seq2seq champion's targets
    rnnops runs reap       # end RUNNING runs whose process is gone (SIGKILL) as KILLED
    rnnops runs urls       # the MLflow UI's runs-table link of each project experiment
    rnnops retrain snapshot|decide|body   # steps of scripts/retrain.sh (see rnnops.retrain)
    rnnops recipe list                    # the reference notes' experiments and their figures
    rnnops recipe run imdb-lstm --data-dir ../shared/data   # one, as a DVC experiment
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnnops.errors import RnnopsError, run_main


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rnnops", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help=(
        "classify raw texts (label and class probabilities); with --params regression/params.yaml, "
        "numbers from feature rows (--file rows.csv) or texts"))
    predict.add_argument("texts", nargs="*", help="texts to classify (or --file, or lines on stdin)")
    predict.add_argument("--file", help="a UTF-8 file with one text per line; '-' reads stdin")
    predict.add_argument("--model", default="champion", help=(
        "registry alias (champion, challenger) of rnnops-<dataset>, winner (the evaluate stage's, "
        "from evaluation/winner.json and the files it names: what an alias falls back to when the "
        "tracking store lacks it, as in a clone filled by `dvc pull`), an MLflow model URI "
        "(models:/..., runs:/...), an MLflow model folder, a model folder models/<name> or its "
        "text_model.keras (default: champion)"))
    predict.add_argument("--dataset", help="registry model rnnops-<dataset> (default: data.source in params.yaml)")
    predict.add_argument("--params", default="params.yaml", help=(
        "where --dataset defaults come from; its task picks the model kind (regression/params.yaml: "
        "the regression champion, winner, ...)"))
    predict.add_argument("--json", action="store_true", help="JSON output: text, label, probabilities")
    predict.add_argument("--serve-uri", action="store_true", help=(
        "print what `mlflow models serve -m` should serve for --model and exit (`make serve`): the "
        "registry alias, or, when the store lacks it, evaluation/model after checking its files"))
    forecast = commands.add_parser("forecast", help="forecast a series' next values from its history")
    forecast.add_argument("--history", required=True, help=(
        "CSV/TSV/Parquet (gzip ok; '-' = CSV on stdin) with the time column and the value columns the "
        "model was trained on, oldest first, at least `window` rows"))
    forecast.add_argument("--model", default="champion", help=(
        "champion or challenger of rnnops-forecast-<series>, winner (forecast/evaluation/model, "
        "checked against its winner.json), an MLflow model URI or a model folder (default: champion)"))
    forecast.add_argument("--params", default="forecast/params.yaml", help="the forecasting params (series name)")
    forecast.add_argument("--json", action="store_true", help="JSON records instead of CSV")
    generate = commands.add_parser("generate", help="continue prompts with the generation task's language model")
    generate.add_argument("prompts", nargs="*", help="texts to continue (none: start a document from its beginning)")
    generate.add_argument("--max-tokens", "--max-chars", dest="max_tokens", type=int, default=200,
                          help="tokens generated per prompt (characters at the character level; default 200)")
    generate.add_argument("--temperature", type=float, default=1.0, help="> 0; lower is more conservative (default 1)")
    generate.add_argument("--top-k", type=int, default=0, help="sample among the k most likely tokens (0 = all)")
    generate.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling: the smallest set of tokens "
                                                                   "holding this probability (1 = off)")
    generate.add_argument("--greedy", action="store_true", help="the most likely token at every step")
    generate.add_argument("--seed", type=int, default=0, help="sampling seed (same seed, same text)")
    generate.add_argument("--model", default="champion", help=(
        "champion or challenger of rnnops-generation-<dataset>, winner (generation/evaluation/model, checked "
        "against its winner.json), an MLflow model URI or a model folder (default: champion)"))
    generate.add_argument("--params", default="generation/params.yaml", help="the generation params (dataset name)")
    generate.add_argument("--json", action="store_true", help="JSON records (prompt, text) instead of plain text")
    translate = commands.add_parser("translate", help="source texts -> target texts with the seq2seq task's model")
    translate.add_argument("sources", nargs="*", help="texts to translate (none: one per line on stdin)")
    translate.add_argument("--beam-width", type=int, help="beam search width (default: the model's, from its params)")
    translate.add_argument("--greedy", action="store_true", help="greedy decoding (beam width 1)")
    translate.add_argument("--length-penalty", type=float, help="beam scores are sum log p / length**this")
    translate.add_argument("--max-len", type=int, help="most target tokens (default: the data's maximum)")
    translate.add_argument("--attention", action="store_true", help="also print each output's attention map (JSON)")
    translate.add_argument("--model", default="champion", help=(
        "champion or challenger of rnnops-seq2seq-<dataset>, winner (seq2seq/evaluation/model, checked "
        "against its winner.json), an MLflow model URI or a model folder (default: champion)"))
    translate.add_argument("--params", default="seq2seq/params.yaml", help="the seq2seq params (dataset name)")
    translate.add_argument("--json", action="store_true", help="JSON records (source, target, score) instead of TSV")
    runs = commands.add_parser("runs", help="the project's MLflow runs")
    runs.add_argument("action", choices=("reap", "urls"), help=(
        "reap: end as KILLED every RUNNING run of this host whose process is gone; "
        "urls: print the runs-table URL of each rnnops-* experiment"))
    runs.add_argument("--ui", default="http://127.0.0.1:5000", help="the MLflow UI's address (urls)")
    retrain = commands.add_parser("retrain", help="steps of scripts/retrain.sh: did the champion change?")
    retrain.add_argument("action", choices=("preset", "snapshot", "decide", "body"), help=(
        "preset: the `dvc exp run -S` overrides of presets/<--preset>.yaml (and --set), one per line; "
        "snapshot: the registry's champions before the pipeline (with a tracking server); "
        "decide: new champion or not, against the server's registry or BASE's metrics/evaluate.json; "
        "body: the pull request's text"))
    retrain.add_argument("--out", type=Path, default=Path("retrain"), help="the job's folder of outcomes")
    retrain.add_argument("--preset", help="a presets/<name>.yaml name (preset)")
    retrain.add_argument("--set", action="append", default=[], help="an extra key=value override (preset)")
    retrain.add_argument("--params", default="params.yaml")
    retrain.add_argument("--base-name", default="main", help="the branch the results are compared with")
    retrain.add_argument("--metrics", type=Path, default=Path("metrics/evaluate.json"))
    retrain.add_argument("--evaluation", type=Path, default=Path("evaluation"))
    retrain.add_argument("--models", type=Path, default=Path("models"))
    retrain.add_argument("--report", type=Path, default=Path("reports/report.md"))
    recipe = commands.add_parser("recipe", help="the reference notes' experiments (recipes/*.yaml)")
    recipe.add_argument("action", choices=("list", "run", "show"), help=(
        "list: every recipe with its published and last figure; run: one as a `dvc exp run --temp` "
        "experiment; show: the `dvc exp run -S` overrides of one, validated"))
    recipe.add_argument("name", nargs="?", help="the recipe (run, show)")
    recipe.add_argument("--data-dir", help=(
        "a folder with local copies of the datasets (../shared/data): data.path becomes its copy of "
        "the recipe's file; without it a dataset is downloaded once (or the recipe's own path is used)"))
    recipe.add_argument("--variant", action="store_true", help=(
        "run (show) the recipe with its `variant:` overrides too: the same experiment with rnnops' own settings"))
    recipe.add_argument("--set", action="append", default=[], help=(
        "an extra `dvc exp run -S` override, e.g. --set train.epochs=2 (not checked: DVC applies it)"))
    return parser.parse_args(argv)


def recipe_command(args: argparse.Namespace) -> None:
    from rnnops import recipes

    if args.action == "list":
        for row in recipes.table():
            got = ", ".join(f"{stage} {value:.4f}" for stage, value in row["rnnops"].items() if value is not None)
            published = "-" if row["published"] is None else f"{row['published']}"
            own = ", ".join(f"{value:.4f}" for value in row["variant"].values() if value is not None)
            print(f"{row['recipe']:<22} {row['figure']:<20} published {published:<7} rnnops {got or '(not run)'}"
                  + (f"; own settings {own}" if own else ""))
        return
    if not args.name:
        raise RnnopsError(f"rnnops recipe {args.action}: name a recipe. Fix: `rnnops recipe list`.")
    recipe = recipes.load(args.name)
    if args.action == "show":
        return print("\n".join(recipes.overrides(recipe, data_dir=args.data_dir, variant=args.variant)))
    result = recipes.run(recipe, data_dir=args.data_dir, extra=args.set, variant=args.variant)
    for stage, value in result["rnnops"].items():
        print(f"recipe {recipe.name}: {stage} {recipe.figure} = {value} (published: {recipe.published}); "
              f"{result['seconds']:.0f} s; experiment {result['experiment']}")


def retrain_command(args: argparse.Namespace) -> None:
    """Files in --out: before.json (snapshot), base_evaluate.json (BASE's metrics, written by the
    script; empty when BASE has none), decision.json/.md, metrics_diff.md, pr_body.md."""
    import json
    import os

    from rnnops import retrain

    server = os.environ.get("MLFLOW_TRACKING_URI", "")
    if args.action == "preset":
        for line in retrain.preset_overrides(Path("presets") / f"{args.preset}.yaml", Path(args.params), args.set):
            print(line)
        return
    if args.action == "snapshot":
        args.out.mkdir(parents=True, exist_ok=True)
        state = retrain.snapshot(_client(server)) if server else {}
        (args.out / "before.json").write_text(json.dumps(state, indent=2) + "\n")
        return
    if args.action == "decide":
        registry_json = _json(args.evaluation / "registry.json")
        if server and registry_json:
            before = _json(args.out / "before.json")
            decision = retrain.from_registry(_client(server), before, registry_json, server)
        else:
            new = _json(args.metrics)
            if not new:
                raise RnnopsError(f"{args.metrics}: missing or empty. Fix: run the pipeline (`dvc repro`) first.")
            decision = retrain.from_committed_metrics(_json(args.out / "base_evaluate.json"), new, args.base_name)
        retrain.write(decision, args.out)
        print(decision.line())
        return
    decision = retrain.Decision(**_json(args.out / "decision.json"))
    runs = {d.name: _json(d / "run.json") for d in sorted(args.models.glob("*")) if d.is_dir()}
    links = retrain.run_links(server, _json(args.evaluation / "registry.json"), runs) \
        if server.startswith(("http://", "https://")) else []
    diff = args.out / "metrics_diff.md"
    body = retrain.pr_body(decision, diff.read_text() if diff.exists() else "",
                           args.report.read_text() if args.report.exists() else "", links)
    (args.out / "pr_body.md").write_text(body)


def _json(path: Path) -> dict:
    import json

    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return {}
    return json.loads(text) if text else {}


def _client(uri: str):
    import mlflow

    from rnnops.tracking.runs import check_reachable

    check_reachable(uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def runs_command(args: argparse.Namespace) -> None:
    import mlflow

    from rnnops.tracking import runs

    mlflow.set_tracking_uri(runs.tracking_uri())
    if args.action == "reap":
        gone = runs.reap()
        for r in gone:
            print(f"KILLED {r.info.run_id} {r.info.run_name} (pid {r.data.tags['rnnops.pid']} is gone)")
        print(f"reaped {len(gone)} run(s)")
        return
    experiments = mlflow.MlflowClient().search_experiments(filter_string="name LIKE 'rnnops-%'")
    for e in sorted(experiments, key=lambda e: e.name):
        print(f"{e.name}: {runs.runs_url(args.ui, e.experiment_id)}")
    if not experiments:
        print(f"no rnnops experiments yet in {mlflow.get_tracking_uri()}: run `make repro` first")


def dataset_default(args: argparse.Namespace) -> str:
    if args.dataset:
        return args.dataset
    from rnnops.data.sources import dataset_name
    from rnnops.params.load import load_params

    return dataset_name(load_params(args.params).data)


def params_task(path: str) -> str | None:
    """The `task:` of a params file (None when it has none or is unreadable: the text default)."""
    import yaml

    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return raw.get("task") if isinstance(raw, dict) else None


def main(argv: list[str] | None = None) -> None:
    def run() -> None:
        args = parse(argv)
        if args.command == "runs":
            return runs_command(args)
        if args.command == "retrain":
            return retrain_command(args)
        if args.command == "recipe":
            return recipe_command(args)
        if args.command == "generate":
            from rnnops.tasks.generation.command import generate_command

            return generate_command(args)
        if args.command == "translate":
            from rnnops.tasks.seq2seq.command import translate_command

            return translate_command(args)
        if args.command == "forecast":
            from rnnops.tasks.forecast.command import forecast_command

            return forecast_command(args)
        if params_task(args.params) == "regression":
            from rnnops.tasks.regression.command import predict_command

            return predict_command(args)
        from rnnops import predict

        needs_dataset = args.model in (*predict.ALIASES, predict.WINNER) or args.model.startswith("@")
        dataset = dataset_default(args) if needs_dataset else ""
        if args.serve_uri:
            return print(predict.serve_uri(args.model, dataset))
        texts = predict.read_texts(args.texts, args.file, sys.stdin)
        model = predict.load(args.model, dataset)
        print(predict.render(texts, model(texts), args.json))

    run_main(run)


if __name__ == "__main__":
    main()
