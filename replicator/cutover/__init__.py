"""Cutting over from V1 to V2: readiness checks (pure), the V1 freeze, and the recorded step-by-step run."""
