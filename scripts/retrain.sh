#!/usr/bin/env bash
# Retrain: the steps of .github/workflows/retrain.yml, also run locally as `make retrain`.
#   1. set-up (the README's), 2. `dvc pull` when a remote is configured, 3. `dvc repro`,
#   4. `dvc metrics diff` against BASE (default: main) as Markdown, 5. `dvc push` when a remote
#   is configured, 6. say whether the registry champion changed.
# Writes retrain/metrics_diff.md and retrain/outcome.env (CHAMPION_CHANGED=true|false). In GitHub
# Actions the diff also goes to the job summary and the outcome to the step outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE="${BASE:-main}"
OUT="${RETRAIN_OUT:-retrain}"
mkdir -p "$OUT"

make setup
export PATH="$PWD/.venv/bin:$PATH"

# `dvc remote default` prints "No default remote set" on stdout when there is none: use its status.
remote="$(dvc remote default 2>/dev/null)" || remote=""
if [ -n "$remote" ]; then
  echo "retrain: pulling data, models and the run cache from remote '$remote'"
  dvc pull --run-cache --allow-missing || echo "retrain: nothing (or not everything) to pull; stages will run"
else
  echo "retrain: no DVC remote configured; skipping pull and push"
fi

before="$(cat evaluation/registry.json 2>/dev/null || echo '{}')"
dvc repro

# The metrics of this workspace against BASE (a branch or commit), as Markdown.
if git rev-parse --verify --quiet "$BASE" >/dev/null; then
  dvc metrics diff "$BASE" --md > "$OUT/metrics_diff.md" || echo "(no metrics at $BASE)" > "$OUT/metrics_diff.md"
else
  echo "(no $BASE to compare with)" > "$OUT/metrics_diff.md"
fi
cat "$OUT/metrics_diff.md"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  { echo "## Metrics against $BASE"; echo; cat "$OUT/metrics_diff.md"; } >> "$GITHUB_STEP_SUMMARY"
fi

if [ -n "$remote" ]; then
  dvc push --run-cache
fi

after="$(cat evaluation/registry.json 2>/dev/null || echo '{}')"
changed="$(python - "$before" "$after" <<'PY'
import json, sys
before, after = (json.loads(a or "{}") for a in sys.argv[1:])
new = after.get("alias") == "champion" and after.get("version") != before.get("version")
print("true" if new else "false")
PY
)"
echo "CHAMPION_CHANGED=$changed" > "$OUT/outcome.env"
echo "retrain: champion changed: $changed"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "champion_changed=$changed" >> "$GITHUB_OUTPUT"
fi
