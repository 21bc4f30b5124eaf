#!/usr/bin/env bash
# Retrain: the steps of .github/workflows/retrain.yml, also run locally as `make retrain [PRESET=imdb]`.
#   1. set-up (the README's); `dvc pull --run-cache` when a DVC remote is configured
#   2. the reference that outlives this job: the tracking server's registry (MLFLOW_TRACKING_URI),
#      or BASE's committed metrics/evaluate.json
#   3. `dvc repro`, or `dvc exp run -S ...` with a preset (presets/<name>.yaml; params.yaml in git
#      is never rewritten)
#   4. `dvc metrics diff BASE --md`, `dvc plots diff BASE`, the champion decision (rnnops.retrain)
#   5. `dvc push --run-cache` (+ the run cache's `cache: false` outputs) when a remote is configured
#   6. whether to open a pull request: only for a new champion, only without a preset, and only
#      with a DVC remote (otherwise the PR's dvc.lock would point at outputs nobody can pull)
# Writes into RETRAIN_OUT (default retrain/): decision.json/.md, metrics_diff.md, plots/index.html,
# pr_body.md (when a PR is due) and outcome.env. In GitHub Actions the decision and the diff also go
# to the job summary (GITHUB_STEP_SUMMARY) and the outcome to the step outputs (GITHUB_OUTPUT).
set -euo pipefail
cd "$(dirname "$0")/.."
# A workflow passes unset secrets as empty strings; to MLflow an empty variable is not "unset".
for var in MLFLOW_TRACKING_URI MLFLOW_TRACKING_USERNAME MLFLOW_TRACKING_PASSWORD MLFLOW_TRACKING_TOKEN; do
  [ -n "${!var:-}" ] || unset "$var"
done
OUT="${RETRAIN_OUT:-retrain}"
PRESET="${PRESET:-}"
SET="${SET:-}"   # extra key=value overrides with a preset, space-separated
if [ -z "${BASE:-}" ]; then  # CI checks out a detached HEAD: main's results are origin/main's
  BASE=main
  git rev-parse --verify --quiet origin/main >/dev/null && BASE=origin/main
fi
rm -rf "$OUT"
mkdir -p "$OUT"

make setup
export PATH="$PWD/.venv/bin:$PATH"

overrides=()
if [ -n "$SET" ] && [ -z "$PRESET" ]; then
  echo "retrain: SET needs a PRESET (make retrain PRESET=imdb SET=data.path=...); for other experiments use dvc exp run -S" >&2
  exit 2
fi
if [ -n "$PRESET" ]; then
  # One `-S key=value` per line, checked against the params schema (a bad preset stops here).
  extra=()
  for kv in $SET; do extra+=(--set "$kv"); done
  mapfile -t overrides < <(rnnops retrain preset --preset "$PRESET" "${extra[@]}")
  [ "${#overrides[@]}" -gt 0 ] || exit 2
  echo "retrain: preset '$PRESET': ${overrides[*]}"
fi

# `dvc remote default` prints "No default remote set" on stdout when there is none: use its status.
remote="$(dvc remote default 2>/dev/null)" || remote=""
if [ -n "$remote" ]; then
  # A cloud remote needs DVC's plugin for it (dvc-s3, dvc-gs, ...), at the pinned DVC version.
  url="$(dvc remote list | awk -v r="$remote" '$1 == r {print $2}')"
  case "$url" in
    s3://*) plugin=s3 ;; gs://*) plugin=gs ;; azure://*) plugin=azure ;; ssh://*) plugin=ssh ;;
    hdfs://*) plugin=hdfs ;; webdav*://*) plugin=webdav ;; oss://*) plugin=oss ;; *) plugin="" ;;
  esac
  if [ -n "$plugin" ] && ! python -c "import dvc_$plugin" 2>/dev/null; then
    dvc_version="$(python -c 'import importlib.metadata as m; print(m.version("dvc"))')"
    python -m pip install --quiet --disable-pip-version-check "dvc[$plugin]==$dvc_version"
  fi
  echo "retrain: pulling data, models and the run cache from DVC remote '$remote'"
  dvc pull --run-cache --allow-missing || echo "retrain: nothing (or not everything) to pull; stages will run"
else
  echo "retrain: no DVC remote configured; nothing to pull or push"
fi

if [ -n "${MLFLOW_TRACKING_URI:-}" ]; then
  echo "retrain: tracking server $MLFLOW_TRACKING_URI: the champion is its registry's"
else
  echo "retrain: no MLFLOW_TRACKING_URI: the champion is $BASE's committed metrics/evaluate.json"
fi
rnnops retrain snapshot --out "$OUT"
git show "$BASE:metrics/evaluate.json" > "$OUT/base_evaluate.json" 2>/dev/null || : > "$OUT/base_evaluate.json"

if [ -n "$PRESET" ]; then
  args=()
  for o in "${overrides[@]}"; do args+=(-S "$o"); done
  dvc exp run "${args[@]}"
else
  dvc repro
fi

# Model quality against BASE (the metrics hold scores only, so an unchanged result is an empty diff).
if git rev-parse --verify --quiet "$BASE" >/dev/null; then
  dvc metrics diff "$BASE" --md > "$OUT/metrics_diff.md"
  dvc plots diff "$BASE" --out "$OUT/plots" > /dev/null || echo "retrain: dvc plots diff failed (see above)"
else
  echo "(no $BASE to compare with)" > "$OUT/metrics_diff.md"
fi
# With nothing changed, `dvc metrics diff --md` prints a table header and no rows.
[ "$(grep -c '^|' "$OUT/metrics_diff.md")" -gt 2 ] || echo "No metric changed against $BASE." > "$OUT/metrics_diff.md"
cat "$OUT/metrics_diff.md"

if [ -n "$remote" ]; then
  # The text classification pipeline this job retrained (forecast/dvc.yaml's outputs are not in
  # this workspace unless pulled: pushing them would fail on the missing cache).
  # `make push`'s command: the run cache's `cache: false` outputs too, so clones restore from it.
  python -m rnnops.dvc_remote dvc.yaml
fi

rnnops retrain decide --out "$OUT" --base-name "$BASE"
changed="$(python -c 'import json, sys; print(str(json.load(open(sys.argv[1]))["champion_changed"]).lower())' "$OUT/decision.json")"

open_pr=false
if [ "$changed" != true ]; then
  why="no new champion: nothing to propose"
elif [ -n "$PRESET" ]; then
  why="preset '$PRESET' is an experiment: main's params.yaml does not select it, so its dvc.lock cannot go to main (results: this summary, the artifacts and the registry)"
elif [ -z "$remote" ]; then
  why="refusing to open a pull request: no DVC remote is configured, so its dvc.lock would point at outputs nobody can pull. Fix: \`make remote URL=s3://bucket/prefix\` (or gs://, ssh://, a shared folder), commit .dvc/config, and set the remote's credentials as repository secrets (see the README's Retraining section)"
else
  open_pr=true
  why="new champion: a pull request with dvc.lock, metrics/ and plots/"
  rnnops retrain body --out "$OUT"
fi
echo "retrain: open a pull request: $open_pr ($why)"

{ echo "CHAMPION_CHANGED=$changed"; echo "OPEN_PR=$open_pr"; } > "$OUT/outcome.env"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  { echo "champion_changed=$changed"; echo "open_pr=$open_pr"; } >> "$GITHUB_OUTPUT"
fi
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  { cat "$OUT/decision.md"; echo; echo "Pull request: **$open_pr**: $why"; echo
    echo "### \`dvc metrics diff $BASE\`"; echo; cat "$OUT/metrics_diff.md"; } >> "$GITHUB_STEP_SUMMARY"
fi
