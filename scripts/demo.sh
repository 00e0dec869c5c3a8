#!/usr/bin/env bash
# The main job: install what is missing, then run the demo end to end on the local stack
# (stack up, seed the scenario at scale 1.0 on the first run, check the mapping, scan orphans,
# stream V1 into Kafka through Debezium, summarize). Idempotent; arguments pass to `demo run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/replicator demo run "$@"
