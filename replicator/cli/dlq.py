"""``replicator dlq list|show|stats|replay``: the dead-letter topic, for the engineers who fix data.

A dead letter is named by its place in the dead-letter topic, ``PARTITION:OFFSET``. ``list`` and
``stats`` never print rows; ``show`` prints one record whole (key, value, headers) on the terminal
that asked for it. ``replay`` re-publishes dead letters to the partition of the source topic they came
from: the workers apply them like any other change, so a row already newer in V2 is never moved back.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

import orjson
import typer

from replicator.cli.output import emit_json, progress_line, table
from replicator.dlq.entries import Selection, json_or_text, parse_id, stats, summary
from replicator.dlq.topic import DeadLetterTopic
from replicator.errors import ConfigError, check_choices
from replicator.pipeline.deadletter import DeadLetterReason
from replicator.settings import load_settings

app = typer.Typer(no_args_is_help=True, help="The dead-letter topic: inspect and replay.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ReasonOpt = Annotated[
    list[str] | None,
    typer.Option("--reason", help="Only this reason (repeatable), e.g. ORPHAN_FK."),
]
TableOpt = Annotated[list[str] | None, typer.Option("--table", help="Only this source table (repeatable).")]
IdOpt = Annotated[
    list[str] | None, typer.Option("--id", help="Only this dead letter, PARTITION:OFFSET (repeatable).")
]
MissingOpt = Annotated[
    str | None,
    typer.Option(
        "--missing-ref",
        help='Only those whose missing reference contains this, e.g. customers[[["i","42"]]].',
    ),
]
GenerationsOpt = Annotated[
    bool,
    typer.Option(
        "--all-generations",
        help="Also the dead letters from before the pipeline last started over (its V2 state emptied).",
    ),
]
TopicOpt = Annotated[
    str | None,
    typer.Option("--topic", help="The dead-letter topic (default: the setting dead_letter_topic)."),
]


def _topic(name: str | None) -> DeadLetterTopic:
    settings = load_settings()
    return DeadLetterTopic(settings.kafka_bootstrap, name or settings.dead_letter_topic)


def _selection(
    reasons: list[str] | None,
    tables: list[str] | None,
    ids: list[str] | None,
    missing_ref: str | None,
    *,
    replayed: bool = True,
) -> Selection:
    check_choices("--reason", reasons or (), (r.value for r in DeadLetterReason))
    return Selection(
        reasons=frozenset(reasons or ()),
        tables=frozenset(tables or ()),
        ids=frozenset(parse_id(i) for i in ids or ()),
        missing_ref=missing_ref,
        replayed=replayed,
    )


def _when(us: int | None) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S") if us else ""


@app.command("list")
def list_command(  # noqa: PLR0917 - typer maps each parameter to one option of the command
    reason: ReasonOpt = None,
    table_: TableOpt = None,
    id_: IdOpt = None,
    missing_ref: MissingOpt = None,
    not_replayed: Annotated[
        bool, typer.Option("--not-replayed", help="Leave out those replayed before.")
    ] = False,
    limit: Annotated[
        int, typer.Option("--limit", min=0, help="At most this many, oldest first (0: all).")
    ] = 50,
    all_generations: GenerationsOpt = False,
    topic: TopicOpt = None,
    json: JsonOpt = False,
) -> None:
    """Dead letters, oldest first: where each came from, why it failed, whether it was replayed. No rows."""
    chosen = _selection(reason, table_, id_, missing_ref, replayed=not not_replayed).select(
        _topic(topic).read(all_generations=all_generations)
    )
    shown = chosen[:limit] if limit else chosen
    if json:
        emit_json({"dead_letters": [summary(e) for e in shown], "matching": len(chosen)})
        return
    table(
        "dead letters",
        ["id", "table", "reason", "source", "missing reference / error", "failed", "replays"],
        [
            (
                e.id,
                e.table,
                e.reason,
                f"{e.info.partition}:{e.info.offset}",
                e.info.missing_ref or e.info.exception_class or "",
                _when(e.info.first_failure_us),
                len(e.replays) or "",
            )
            for e in shown
        ],
    )
    progress_line(f"{len(shown):,} of {len(chosen):,} matching dead letters shown")


@app.command("show")
def show(
    id_: Annotated[
        str, typer.Argument(metavar="PARTITION:OFFSET", help="The dead letter, as `list` names it.")
    ],
    topic: TopicOpt = None,
    json: JsonOpt = False,
) -> None:
    """One dead letter whole: its key, value and headers (it prints the row: for your terminal only)."""
    wanted = parse_id(id_)
    found = [e for e in _topic(topic).read(all_generations=True) if (e.partition, e.offset) == wanted]
    if not found:
        raise ConfigError("PARTITION:OFFSET", source="the command line", problem=f"no dead letter at {id_}")
    entry = found[0]
    record = {
        **summary(entry),
        "key": json_or_text(entry.key),
        "value": json_or_text(entry.value),
        "headers": {name: json_or_text(value) for name, value in entry.headers},
        "exception_stacktrace": entry.info.exception_stacktrace,
    }
    if json:
        emit_json(record)
        return
    for name, value in record.items():
        shown = value if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
        print(f"{name}: {shown}")


@app.command("stats")
def stats_command(
    all_generations: GenerationsOpt = False, topic: TopicOpt = None, json: JsonOpt = False
) -> None:
    """Dead letters per source table and reason: how many, how many replayed, first and last failure."""
    rows = stats(_topic(topic).read(all_generations=all_generations))
    if json:
        emit_json({"groups": [asdict(s) for s in rows]})
        return
    table(
        "dead letters by table and reason",
        ["table", "reason", "count", "replayed", "first failure", "last failure"],
        [
            (
                s.table,
                s.reason,
                f"{s.count:,}",
                f"{s.replayed:,}",
                _when(s.first_failure_us),
                _when(s.last_failure_us),
            )
            for s in rows
        ],
    )
    progress_line(f"{sum(s.count for s in rows):,} dead letters")


@app.command("replay")
def replay(  # noqa: PLR0917 - typer maps each parameter to one option of the command
    reason: ReasonOpt = None,
    table_: TableOpt = None,
    id_: IdOpt = None,
    missing_ref: MissingOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="Every dead letter (no filter given).")] = False,
    again: Annotated[bool, typer.Option("--again", help="Include those replayed before.")] = False,
    all_generations: GenerationsOpt = False,
    topic: TopicOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be replayed; send nothing.")
    ] = False,
    json: JsonOpt = False,
) -> None:
    """Re-publish dead letters to their source topics, after their cause was fixed (a missing parent
    inserted into V1, a mapping corrected). The workers apply them as they arrive; one still failing
    comes back to the dead-letter topic with its replay count one higher. Each dead letter is replayed
    once unless --again."""
    if not (reason or table_ or id_ or missing_ref or all_):
        raise ConfigError(
            "replay filter",
            source="the command line",
            problem="no dead letters chosen",
            valid="--reason, --table, --id, --missing-ref, or --all for every one",
        )
    dlq = _topic(topic)
    chosen = _selection(reason, table_, id_, missing_ref, replayed=again).select(
        dlq.read(all_generations=all_generations)
    )
    done = [] if dry_run else dlq.replay(chosen)
    by_group = {(s.table, s.reason): s.count for s in stats(chosen)}
    if json:
        emit_json(
            {
                "dry_run": dry_run,
                "replayed": len(done),
                "chosen": [e.id for e in chosen],
                "by_table_and_reason": [
                    {"table": t, "reason": r, "count": n} for (t, r), n in by_group.items()
                ],
            }
        )
        return
    verb = "would replay" if dry_run else "replayed"
    for (t, r), n in by_group.items():
        progress_line(f"{verb} {n:,} {r} dead letter(s) of {t}")
    progress_line(f"{verb} {len(chosen):,} dead letter(s); the workers apply them as they arrive")
