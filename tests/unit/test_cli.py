"""The ``replicator`` command builds only the subcommand it runs, and still behaves as one program."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from replicator.cli import COMMANDS, _invoked, build, unreachable

runner = CliRunner()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_subcommand_runs_when_built_alone(name: str) -> None:
    # Built alone, a command must stay a subcommand: Typer runs a lone command as the whole program.
    result = runner.invoke(build(_invoked([name, "--help"])), [name, "--help"], prog_name="replicator")
    assert result.exit_code == 0, result.output
    assert f"Usage: replicator {name} " in " ".join(result.output.split())


def test_the_subcommand_is_the_first_argument_that_is_not_an_option() -> None:
    assert _invoked(["load", "--json"]) == ["load"]
    assert _invoked(["dlq", "list", "--reason", "ORPHAN_FK"]) == ["dlq"]
    assert _invoked(["--help", "verify"]) == ["verify"]


@pytest.mark.parametrize("argv", [[], ["--help"], ["bogus"], ["lod"]])
def test_help_and_typos_see_every_subcommand(argv: list[str]) -> None:
    assert _invoked(argv) == list(COMMANDS)


def test_a_typo_is_a_usage_error_listing_nothing_half_built() -> None:
    result = runner.invoke(build(_invoked(["lod"])), ["lod"])
    assert result.exit_code == 2
    assert "No such command 'lod'" in result.output


def test_help_lists_every_subcommand() -> None:
    result = runner.invoke(build(), ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


def test_a_short_command_does_not_import_the_worker_stack() -> None:
    # `replicator status` (and every command but the worker's) used to import Faust, both Kafka clients
    # and aiohttp through the other subcommands' modules: about half a second of CPU per call.
    code = "import sys; from replicator.cli import build; build(['status']); print('faust' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_an_unreachable_database_is_one_line_and_exit_code_3(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "REPLICATOR_STATE_DIR": str(tmp_path),
        "REPLICATOR_V2_ADMIN__PORT": "1",  # nothing listens there
        "REPLICATOR_V2_ADMIN__USER": "postgres",
        "REPLICATOR_V1_ADMIN__PORT": "1",
        "REPLICATOR_V1_ADMIN__USER": "postgres",
    }
    done = subprocess.run(
        [sys.executable, "-m", "replicator", "status"], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith("stack error: PostgreSQL unreachable: connection failed:")
    assert "port 1 failed" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_kafka_and_connect_failures_are_named_and_anything_else_is_left_alone() -> None:
    import httpx
    import psycopg
    from kafka.errors import KafkaTimeoutError

    down = psycopg.OperationalError(
        'connection failed: connection to server at "h", port 5 failed\nIs it up?'
    )
    assert (
        unreachable(down)
        == 'PostgreSQL unreachable: connection failed: connection to server at "h", port 5 failed'
    )
    assert unreachable(KafkaTimeoutError("Unable to bootstrap from 127.0.0.1:1")) == (
        "Kafka unreachable: KafkaTimeoutError: Unable to bootstrap from 127.0.0.1:1"
    )
    refused = httpx.ConnectError("refused", request=httpx.Request("GET", "http://127.0.0.1:28083/connectors"))
    assert unreachable(refused) == "Kafka Connect unreachable at http://127.0.0.1:28083: ConnectError"
    assert unreachable(httpx.ConnectError("refused")) == "Kafka Connect unreachable: ConnectError"
    assert unreachable(ValueError("a bug")) is None
    assert unreachable(psycopg.errors.UniqueViolation("duplicate")) is None


# PRODUCT.md: every read command takes --json, every state-changing one --dry-run. Each leaf command is
# classified here, so a new command fails this test until someone decides which it is.
READS = {
    "connector status", "cutover check", "cutover plan", "dlq list", "dlq show", "dlq stats",
    "mapping check", "orphans scan", "parity", "report", "stack status", "status", "verify",
}  # fmt: skip
CHANGES = {
    "connector register", "cutover abort", "cutover resume", "cutover run", "db bootstrap", "demo run",
    "demo seed", "dlq replay", "load", "orphans fix", "repair extra", "repair missing", "stack down",
    "stack prune",
    "stack up", "worker run", "worker start", "worker stop",
}  # fmt: skip


def _leaves() -> dict[str, set[str]]:
    import typer.main

    out: dict[str, set[str]] = {}

    def walk(command: object, path: list[str]) -> None:
        children = getattr(command, "commands", None)
        if children:
            for name, child in children.items():
                walk(child, [*path, name])
        else:
            out[" ".join(path)] = {o for p in command.params for o in getattr(p, "opts", [])}  # type: ignore[attr-defined]

    walk(typer.main.get_command(build()), [])
    return out


def test_every_read_command_has_json_and_every_change_a_dry_run() -> None:
    leaves = _leaves()
    assert set(leaves) == READS | CHANGES, "classify the new command in READS or CHANGES"
    assert not READS & CHANGES
    assert [c for c in sorted(READS) if "--json" not in leaves[c]] == []
    assert [c for c in sorted(CHANGES) if "--dry-run" not in leaves[c]] == []
