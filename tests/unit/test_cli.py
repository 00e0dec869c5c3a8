"""The ``replicator`` command builds only the subcommand it runs, and still behaves as one program."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from replicator.cli import COMMANDS, _invoked, build

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
