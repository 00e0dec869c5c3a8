#!/usr/bin/env bash
# The benchmarks: install what is missing, then run every system and scenario on the benchmark's own
# local stack (.stack-bench/, ports +400). `--quick` finishes in a few minutes (scale 0.05); without it,
# scale 1.0 with 3 repeats. Prints tables; JSON under bench/results/. Arguments pass to `python -m bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/python -m bench "$@"
