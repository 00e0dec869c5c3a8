#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine; idempotent and quick when all is there.
#   - Debian packages: PostgreSQL server, a Java 17 runtime, Maven, Prometheus's promtool (only when
#     missing; needs root)
#   - a virtualenv in .venv with the package and its dev tools (pip's cache: ~/.cache/pip)
# Kafka, Kafka Connect and Debezium jars are resolved by Maven into ~/.m2 on the first `stack up`.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql postgresql-contrib)
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
# promtool checks and tests the alert rules; the server scrapes the live pipeline in the end-to-end tests
{ command -v promtool && command -v prometheus; } >/dev/null || missing+=(prometheus)
python3 -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null || missing+=(python3 python3-venv)
python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing Debian packages: ${missing[*]} — install them (sudo apt-get install ${missing[*]})" >&2
    exit 2
  fi
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [[ ! -f $stamp ]]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  rm -f .venv/.installed-* && touch "$stamp"
fi
