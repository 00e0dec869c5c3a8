"""Test tiers: unit (pure, no services) and integration/e2e (the real local stack).

Integration tests run against their own stack on ports offset from the defaults (so a developer's
running stack is not disturbed), in `.stack-test/` at the repository root.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEST_PORT_OFFSET = 100

os.environ.setdefault("REPLICATOR_STATE_DIR", str(REPO / ".stack-test"))
for _key, _default in {
    "V1_PORT": 25432,
    "V2_PORT": 25433,
    "KAFKA_PORT": 29092,
    "CONTROLLER_PORT": 29093,
    "CONNECT_PORT": 28083,
}.items():
    os.environ.setdefault(f"REPLICATOR_STACK__{_key}", str(_default + TEST_PORT_OFFSET))
os.environ.setdefault("REPLICATOR_WORKER_WEB_PORT", str(26066 + TEST_PORT_OFFSET))
