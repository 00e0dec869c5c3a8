#!/usr/bin/env bash
# The test command: install what is missing, lint, type-check, then unit and integration tests
# against the real local stack (PostgreSQL, Kafka, Kafka Connect + Debezium). Slow tests
# (scale 1.0) are excluded unless REPLICATOR_SLOW=1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

echo "== ruff"; .venv/bin/ruff check replicator tests bench
.venv/bin/ruff format --check replicator tests bench
echo "== mypy"; .venv/bin/mypy replicator bench
marker="not slow"
[[ ${REPLICATOR_SLOW:-0} == 1 ]] && marker=""
echo "== pytest"
# pytest exits 5 when it collected no test: that is a failure here, as is any other non-zero code.
.venv/bin/pytest -m "$marker" "$@"
