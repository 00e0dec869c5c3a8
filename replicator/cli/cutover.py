"""``replicator cutover plan|check|run|resume|abort``: the cutover crew's commands.

``check`` exits 0 when every blocking readiness check passes, 1 otherwise. ``run`` checks, freezes V1's
writes, writes a fence, waits until V2 has applied everything before it, and verifies V2 against the
frozen V1; each step is recorded in V2, so ``resume`` continues an interrupted or paused run and
``abort`` opens V1 again. Exit codes: 0 done (or paused as asked), 1 stopped at a step (the message
says why and what to do).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from replicator.cli.mapping import DEFAULT_MAPPING, MappingOpt
from replicator.cli.output import emit_json, progress_line, table
from replicator.cutover.checks import Check, Limits, ready
from replicator.cutover.run import Cutover, CutoverError
from replicator.cutover.state import STEPS, CutoverState
from replicator.mapping.model import load_mapping
from replicator.settings import load_settings

app = typer.Typer(
    no_args_is_help=True, help="Cut over from V1 to V2: readiness, freeze, fence, drain, verify."
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Say what would be done; change nothing.")]
MaxLagOpt = Annotated[
    int, typer.Option("--max-lag", min=0, help="Most consumer lag (events) the checks allow.")
]
MaxParkedOpt = Annotated[
    int, typer.Option("--max-parked", min=0, help="Most parked changes the checks allow.")
]
VerifyAgeOpt = Annotated[
    float, typer.Option("--max-verify-age", min=0, help="Hours since each table's last passing verify.")
]
AcceptOpt = Annotated[
    bool,
    typer.Option(
        "--accept-dead-letters", help="Cut over although dead letters other than policy orphans remain."
    ),
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help=f"Pause after this step ({', '.join(STEPS)}); resume continues.")
]
DrainOpt = Annotated[float, typer.Option("--drain-timeout", min=1, help="Seconds to wait for the fence.")]
FinalVerifyOpt = Annotated[
    str,
    typer.Option(
        "--final-verify",
        help="full: compare every table with frozen V1 (V1 stays frozen meanwhile); recorded: accept the "
        "last recorded results (checked recent and matching), for a freeze of seconds.",
    ),
]


DEFAULTS = Limits()


def _cutover(
    mapping_path: str, limits: Limits = DEFAULTS, drain_timeout: float = 300.0, final_verify: str = "full"
) -> Cutover:
    return Cutover(
        load_settings(),
        load_mapping(mapping_path),
        limits=limits,
        drain_timeout_s=drain_timeout,
        final_verify=final_verify,
        progress=progress_line,
    )


def _show_checks(checks: list[Check]) -> None:
    table(
        "cutover readiness",
        ["check", "result", "detail"],
        [(c.name, "pass" if c.passed else ("FAIL" if c.blocking else "note"), c.detail) for c in checks],
    )


def _show_state(state: CutoverState | None, *, json: bool) -> None:
    if json:
        emit_json({"cutover": state.as_dict() if state else None})
    elif state is None:
        progress_line("no cutover recorded")
    else:
        progress_line(f"cutover {state.status} after step {state.step or '(none)'}: {state.detail}")


@app.command()
def check(  # noqa: PLR0917 - typer maps each parameter to one option of the command
    mapping_path: MappingOpt = DEFAULT_MAPPING,
    max_lag: MaxLagOpt = DEFAULTS.max_consumer_lag,
    max_parked: MaxParkedOpt = DEFAULTS.max_parked,
    max_verify_age: VerifyAgeOpt = DEFAULTS.max_verify_age_s / 3600,
    accept_dead_letters: AcceptOpt = False,
    json: JsonOpt = False,
) -> None:
    """Readiness: connector and slot, workers, lag, parked, accounting, verification, dead letters."""
    checks = _cutover(
        str(mapping_path), Limits(max_lag, max_parked, max_verify_age * 3600, accept_dead_letters)
    ).check()
    if json:
        emit_json({"ready": ready(checks), "checks": [c.as_dict() for c in checks]})
    else:
        _show_checks(checks)
        progress_line("ready to cut over" if ready(checks) else "not ready")
    if not ready(checks):
        raise typer.Exit(1)


@app.command()
def plan(mapping_path: MappingOpt = DEFAULT_MAPPING, json: JsonOpt = False) -> None:
    """The steps `run` takes, what each does here, and where the last cutover stands."""
    settings = load_settings()
    steps = {
        "check": "every blocking readiness check passes (`cutover check`), else stop with V1 untouched",
        "freeze": f"V1 database {settings.v1_admin.dbname} read-only for every role but "
        f"{settings.v1_replication.user} (Debezium); open application sessions ended",
        "fence": "a row written into replicator.fence; its WAL position bounds what V2 needs",
        "drain": "Debezium's slot passes the fence, the workers commit every offset after it, nothing parked",
        "verify": "every V2 table compared with frozen V1 through the mapping",
        "sequences": "V2's id sequences moved past V2's highest ids and V1's sequences, for V2's own inserts",
    }
    state = _cutover(str(mapping_path)).current()
    if json:
        emit_json(
            {
                "steps": [{"step": s, "does": d} for s, d in steps.items()],
                "cutover": state and state.as_dict(),
            }
        )
        return
    table("cutover plan", ["step", "does"], list(steps.items()))
    progress_line("then: flip traffic to V2 (V1 stays read-only; `cutover abort` opens it again)")
    _show_state(state, json=False)


def _go(action: str, cutover: Cutover, until: str | None, dry_run: bool, json: bool) -> None:
    if dry_run:
        state = cutover.current()
        checks = cutover.check()
        remaining = state.remaining if action == "resume" and state else STEPS
        if json:
            emit_json(
                {
                    "would_run": list(remaining),
                    "ready": ready(checks),
                    "checks": [c.as_dict() for c in checks],
                }
            )
        else:
            _show_checks(checks)
            progress_line(
                f"would run: {', '.join(remaining)}" + (f", pausing after {until}" if until else "")
            )
        return
    try:
        state = cutover.run(until=until) if action == "run" else cutover.resume(until=until)
    except CutoverError as exc:
        state = cutover.current()
        if json:
            emit_json({"error": str(exc), "cutover": state.as_dict() if state else None})
        else:
            progress_line(f"stopped: {exc}")
        raise typer.Exit(1) from None
    _show_state(state, json=json)


def _stepping(action: str, doc: str) -> Callable[..., None]:
    """The `run` or `resume` command: the same options, one action."""

    def command(  # noqa: PLR0917 - typer maps each parameter to one option of the command
        mapping_path: MappingOpt = DEFAULT_MAPPING,
        until: UntilOpt = None,
        drain_timeout: DrainOpt = 300.0,
        final_verify: FinalVerifyOpt = "full",
        max_lag: MaxLagOpt = DEFAULTS.max_consumer_lag,
        max_parked: MaxParkedOpt = DEFAULTS.max_parked,
        max_verify_age: VerifyAgeOpt = DEFAULTS.max_verify_age_s / 3600,
        accept_dead_letters: AcceptOpt = False,
        dry_run: DryRunOpt = False,
        json: JsonOpt = False,
    ) -> None:
        limits = Limits(max_lag, max_parked, max_verify_age * 3600, accept_dead_letters)
        _go(action, _cutover(str(mapping_path), limits, drain_timeout, final_verify), until, dry_run, json)

    command.__doc__ = doc
    return command


app.command("run")(_stepping("run", "Check, freeze V1, fence, drain, verify; recorded step by step in V2."))
app.command("resume")(
    _stepping(
        "resume",
        "Continue a paused, failed or interrupted cutover from its last completed step (the limits apply "
        "when the check is what stopped it).",
    )
)


@app.command()
def abort(
    mapping_path: MappingOpt = DEFAULT_MAPPING, dry_run: DryRunOpt = False, json: JsonOpt = False
) -> None:
    """Open V1's writes again and mark the cutover aborted (at any step, also after it is done)."""
    cutover = _cutover(str(mapping_path))
    if dry_run:
        progress_line(
            "would reset V1's read-only default, end the sessions opened read-only, mark the cutover aborted"
        )
        _show_state(cutover.current(), json=json)
        return
    _show_state(cutover.abort(), json=json)
