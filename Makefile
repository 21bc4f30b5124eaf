# The README's two commands: `make repro` (set-up + the pipeline) and `make test` (set-up + tests).
PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
# GPU=1: TensorFlow with CUDA (the `gpu` extra) instead of tensorflow-cpu; one stamp per flavour.
FLAVOUR := $(if $(filter 1 yes true,$(GPU)),gpu,cpu)
OTHER_TF := $(if $(filter gpu,$(FLAVOUR)),tensorflow-cpu,tensorflow)
STAMP  := $(VENV)/.rnnops-installed-$(FLAVOUR)
# Stage commands in dvc.yaml call `python`; make sure that is the project's interpreter.
export PATH := $(BIN):$(PATH)
UI_PORT ?= 5000

.PHONY: recipe recipes setup repro test ui dag bench-prepare bench-forecast clean-venv retrain compare remote serve bench-serve \
	postgres postgres-stop mlflow-server optuna-ui push

setup: $(STAMP)

# Re-installs only when pyproject.toml changes, so a second `make repro` installs nothing.
$(STAMP): pyproject.toml
	@# A venv on an unsupported Python (say, from an earlier PYTHON=...) is rebuilt, not reused.
	@$(BIN)/python -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 13))' 2>/dev/null \
		|| { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	@# tensorflow-cpu and tensorflow share one package directory: the other flavour goes first.
	@rm -f $(VENV)/.rnnops-installed-*
	@$(BIN)/python -m pip uninstall --quiet --disable-pip-version-check -y $(OTHER_TF) 2>/dev/null || true
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,$(FLAVOUR)]'
	@touch $(STAMP)

# Every task's pipeline (dvc.yaml: text classification; forecast/, regression/, generation/, seq2seq/dvc.yaml),
# then each one's wall time. One task alone: `dvc repro forecast/dvc.yaml` (or `make repro TASK=forecast`).
repro: setup
	$(BIN)/python scripts/repro.py $(TASK)

test: setup
	$(BIN)/python -m pytest

# One reference-notes experiment as a DVC experiment (recipes/<NAME>.yaml; `rnnops recipe list`):
#   make recipe NAME=imdb-lstm [DATA=../shared/data]   (DATA: local copies instead of downloads)
recipe: setup
	$(BIN)/rnnops recipe run $(NAME) $(if $(DATA),--data-dir $(DATA))

# Every recipe (or RECIPES="a b"), then the README's table of published and rnnops figures.
recipes: setup
	$(BIN)/python benchmarks/bench_recipes.py $(if $(DATA),--data-dir $(DATA)) $(RECIPES)

# The MLflow UI on the project's store, bound to loopback only. It first prints the link that
# opens each experiment on its runs table (MLflow 3 otherwise lands on the GenAI overview).
ui: setup
	@$(BIN)/rnnops runs urls --ui http://127.0.0.1:$(UI_PORT)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlruns/mlflow.db \
		--host 127.0.0.1 --port $(UI_PORT)

dag: setup
	$(BIN)/dvc dag

# Wall time (min/median/max of 3 runs) and peak memory of the prepare stage on IMDB (50k reviews) and tweets.
bench-prepare: setup
	$(BIN)/python benchmarks/bench_prepare.py

# The forecasting table (every model, baseline and ensemble on CO2's test period); RUN=1 retrains
# the whole forecasting pipeline first and prints its wall time.
bench-forecast: setup
	$(BIN)/python benchmarks/bench_forecast.py $(if $(RUN),--run --force)

# The registry champion of rnnops-$(DATASET) as a REST API on loopback:
#   curl -s 127.0.0.1:5001/invocations -H 'Content-Type: application/json' -d '{"inputs": ["a text"]}'
# The store is MLFLOW_TRACKING_URI (a team server), else mlruns/mlflow.db. When it has no champion
# (a clone filled by `dvc pull`), the evaluate stage's evaluation/model, after `rnnops predict
# --serve-uri` checked its files against evaluation/winner.json; it prints which.
# The server runs `uvicorn` from PATH, which is why PATH (exported above) starts with the venv.
DATASET ?= tweets
PORT ?= 5001
SERVE_STORE = MLFLOW_TRACKING_URI="$${MLFLOW_TRACKING_URI:-sqlite:///$(CURDIR)/mlruns/mlflow.db}"
SERVE_MODEL = $(SERVE_STORE) $(BIN)/rnnops predict --serve-uri --dataset $(DATASET)

serve: setup
	@model=$$($(SERVE_MODEL)) || exit $$?; echo "serving $$model on 127.0.0.1:$(PORT)"; \
	$(SERVE_STORE) $(BIN)/mlflow models serve -m "$$model" --env-manager local --host 127.0.0.1 --port $(PORT)

# One-text latency (p50/p95/max over 200 requests) and texts/s for batches of 1,000, over HTTP.
bench-serve: setup
	@model=$$($(SERVE_MODEL)) || exit $$?; echo "benchmarking $$model"; \
	$(SERVE_STORE) $(BIN)/python benchmarks/bench_serve.py "$$model"

# The retraining job of .github/workflows/retrain.yml, locally (same script; outcomes in retrain/):
#   make retrain [PRESET=imdb] [SET="data.path=../shared/data/imdb_reviews.csv.gz ..."]
retrain:
	PRESET="$(PRESET)" SET="$(SET)" scripts/retrain.sh

# The experiments (`dvc exp show`) as one short table: winner's scores, each model's test
# accuracy, the params that differ. Options pass through: make compare ARGS=-A
compare: setup
	@$(BIN)/python scripts/compare.py $(ARGS)

# A DVC remote for data, models and the run cache: a folder, s3://..., gs://..., ssh://...
remote: setup
	@test -n "$(URL)" || { echo "usage: make remote URL=/path/or/s3://bucket/prefix"; exit 2; }
	$(BIN)/dvc remote add --default --force storage "$(URL)"
	@echo "DVC remote 'storage' -> $(URL) (in .dvc/config; commit it to share)"

# `dvc push --run-cache` plus the run cache's `cache: false` outputs (metrics, plot tables), which
# DVC leaves out, so a clone restores stages from the run cache: `dvc pull --run-cache` then
# `dvc repro --pull`. TARGETS: dvc.yaml files or stages (default: all).
push: setup
	$(BIN)/python -m rnnops.dvc_remote $(TARGETS)

# From one machine to a team (README). A PostgreSQL cluster of this machine's binaries on
# 127.0.0.1:$(PG_PORT), data in $(PG_DIR), with databases `optuna` and `mlflow`; prints their URLs.
PG_DIR ?= $(CURDIR)/.servers/postgres
PG_PORT ?= 5433
postgres: setup
	@PG_DIR="$(PG_DIR)" PG_PORT="$(PG_PORT)" $(BIN)/python -m rnnops.servers postgres start optuna mlflow

postgres-stop: setup
	@PG_DIR="$(PG_DIR)" $(BIN)/python -m rnnops.servers postgres stop

# `mlflow server`: runs and the registry in BACKEND_URI (default: database `mlflow` of the cluster
# above, started if needed), artifacts served by the server from ARTIFACTS (a folder or bucket),
# on 127.0.0.1:$(MLFLOW_PORT). AUTH=1: MLflow's basic-auth app (admin password in .servers/).
#   make mlflow-server [BACKEND_URI=postgresql+psycopg://...] [ARTIFACTS=s3://...] [AUTH=1]
MLFLOW_PORT ?= 5050
mlflow-server: setup
	@PG_DIR="$(PG_DIR)" PG_PORT="$(PG_PORT)" $(BIN)/python -m rnnops.servers mlflow --port $(MLFLOW_PORT) \
		$(if $(filter 1 yes true,$(AUTH)),--auth)

# optuna-dashboard on the study storage of params.yaml (tune.storage; SQLite in tuning/ by default).
OPTUNA_PORT ?= 8080
optuna-ui: setup
	@$(BIN)/python -m rnnops.servers optuna-ui --port $(OPTUNA_PORT)

clean-venv:
	rm -rf $(VENV)
