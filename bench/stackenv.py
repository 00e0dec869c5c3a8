"""The benchmark's own local stack: a state dir and ports apart from the demo's and the tests'.

Import this module before anything reads settings. Explicit environment variables still win, so a
second benchmark stack can run beside this one (``REPLICATOR_STATE_DIR=… REPLICATOR_STACK__…``).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH_PORT_OFFSET = 400
DEFAULT_PORTS = {
    "REPLICATOR_STACK__V1_PORT": 25432,
    "REPLICATOR_STACK__V2_PORT": 25433,
    "REPLICATOR_STACK__KAFKA_PORT": 29092,
    "REPLICATOR_STACK__CONTROLLER_PORT": 29093,
    "REPLICATOR_STACK__CONNECT_PORT": 28083,
    "REPLICATOR_WORKER_WEB_PORT": 26066,
}


def configure(offset: int = BENCH_PORT_OFFSET, state_dir: Path = REPO / ".stack-bench") -> None:
    os.environ.setdefault("REPLICATOR_STATE_DIR", str(state_dir))
    for key, port in DEFAULT_PORTS.items():
        os.environ.setdefault(key, str(port + offset))


configure()
