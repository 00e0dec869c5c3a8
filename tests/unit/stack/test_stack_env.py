"""``stack.env``: generated passwords kept, endpoints following the stack's ports."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from replicator.settings import load_settings
from replicator.stack.manager import ensure_secrets


def test_endpoints_follow_changed_ports_and_passwords_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = ensure_secrets(load_settings(tmp_path))
    monkeypatch.setenv("REPLICATOR_STACK__V1_PORT", "24901")
    monkeypatch.setenv("REPLICATOR_STACK__CONNECT_PORT", "24983")
    second = ensure_secrets(load_settings(tmp_path))
    assert (second.v1_admin.port, second.v1_replication.port) == (24901, 24901)
    assert second.connect_url == "http://127.0.0.1:24983"
    assert second.v2_admin.port == first.v2_admin.port
    for name in ("v1_admin", "v1_replication", "v2_admin", "v2_writer"):
        assert getattr(second, name).password == getattr(first, name).password
    env_file = tmp_path / "stack.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    before = env_file.stat().st_mtime_ns
    ensure_secrets(load_settings(tmp_path))
    assert env_file.stat().st_mtime_ns == before, "unchanged settings leave the file alone"
