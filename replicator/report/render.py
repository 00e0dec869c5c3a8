"""Render a report (its ``as_dict()``) as Markdown, JSON or HTML. Pure.

Markdown and HTML share one layout (``sections``): the seed's table first, then one details section
per row. Every cell of the HTML is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

FORMATS = ("md", "json", "html")
TABLE_COLUMNS = ("Metric", "Current", "Target", "Gap")


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    columns: Sequence[str] = ()
    rows: Sequence[Sequence[object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _n(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(_n(v) for v in value)
    return str(value)


def _details(metric: str, details: dict[str, Any]) -> Section | None:  # noqa: PLR0911 - one branch per row
    rows: list[Sequence[object]]
    if "calculations" in details:
        rows = [(c["name"], c["dashboard"], c["status"], c["detail"]) for c in details["calculations"]]
        return Section(metric, ("calculation", "dashboard", "status", "detail"), rows)
    if "v1_orphans" in details:
        rows = [
            (r["relationship"], r["child"], _n(r["columns"]), _n(r["parents"]), r["policy"], r["orphans"])
            for r in details["v1_orphans"]
        ]
        notes = [f"V2: {details['v2_enforced']}"]
        notes += [
            f"V2 does not enforce {f['relationship']} (constraint {f['constraint'] or 'absent'}, "
            f"validated {_n(f['validated'])}, enabled {_n(f['enabled'])})"
            for f in details["v2_not_enforced"]
        ]
        notes += [f"not scannable: {u['relationship']}: {u['reason']}" for u in details["v1_unscannable"]]
        return Section(
            metric, ("relationship", "child (V1)", "columns", "parent (V1)", "policy", "orphans"), rows, notes
        )
    if "tables" in details and "seed_tables_not_in_v2" in details:
        rows = [
            (
                t["table"],
                _n(t["sources"]),
                t["v1_rows"],
                t["kept_out"],
                t["expected"],
                t["present"],
                t["missing"],
                t["figures_from"],
            )
            for t in details["tables"]
        ]
        seed = ", ".join(f"{k} {_n(v)}" for k, v in details["seed_tables_not_in_v2"].items())
        notes = [
            f"V1 rows not in V2 in the seed's four tables: {seed}",
            f"kept out of V2 by orphan policy (dead_letter/drop): {_n(details['kept_out_by_policy'])}; "
            f"extra rows in V2: {_n(details['extra_in_v2'])}",
        ]
        columns = ("V2 table", "V1 sources", "V1 rows", "kept out", "expected", "in V2", "missing", "from")
        return Section(metric, columns, rows, notes)
    if "endpoints" in details:
        rows = [
            (e["name"], e.get("method", ""), e.get("path", ""), e["status"], e.get("detail", ""))
            for e in details["endpoints"]
        ]
        return Section(
            metric,
            ("endpoint", "method", "path", "status", "detail"),
            rows,
            [f"last run {details['last_run']}"],
        )
    if "tables" in details:
        rows = [
            (
                v["table"],
                v["status"],
                v["rows_expected"],
                v["rows_actual"],
                v["missing"],
                v["extra"],
                v["different"],
                v["checked_at"],
            )
            for v in details["tables"]
        ]
        columns = ("V2 table", "status", "expected", "actual", "missing", "extra", "different", "checked")
        return Section(metric, columns, rows)
    if "checks" in details:
        rows = [
            (c["name"], "pass" if c["passed"] else ("FAIL" if c["blocking"] else "note"), c["detail"])
            for c in details["checks"]
        ]
        return Section(metric, ("check", "result", "detail"), rows)
    if "components" in details:
        rows = [
            (name, "not measured" if v is None else f"{100 * v:.2f}%")
            for name, v in details["components"].items()
        ]
        return Section(metric, ("component", "value"), rows, [details["formula"]])
    return None


def sections(report: dict[str, Any]) -> list[Section]:
    out = [
        Section(
            "Current State vs Target State",
            TABLE_COLUMNS,
            [(r["metric"], r["current"], r["target"], r["gap"]) for r in report["rows"]],
            [f"generated {report['generated_at']}"],
        )
    ]
    for row in report["rows"]:
        section = _details(row["metric"], row["details"])
        if section is not None:
            out.append(section)
    return out


def _md_cell(value: object) -> str:
    return _n(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(report: dict[str, Any]) -> str:
    lines = ["# Migration report", ""]
    for index, section in enumerate(sections(report)):
        lines += [f"{'##' if index == 0 else '###'} {section.title}", ""]
        if section.columns:
            lines.append("| " + " | ".join(section.columns) + " |")
            lines.append("|" + "|".join(" --- " for _ in section.columns) + "|")
            lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in section.rows]
            lines.append("")
        lines += [f"- {note}" for note in section.notes]
        if section.notes:
            lines.append("")
    return "\n".join(lines)


def to_html(report: dict[str, Any]) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Migration report</title>',
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}"
        "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f3f3f3}</style>",
        "</head><body><h1>Migration report</h1>",
    ]
    for index, section in enumerate(sections(report)):
        tag = "h2" if index == 0 else "h3"
        parts.append(f"<{tag}>{e(section.title)}</{tag}>")
        if section.columns:
            parts.append("<table><thead><tr>" + "".join(f"<th>{e(c)}</th>" for c in section.columns))
            parts.append("</tr></thead><tbody>")
            parts += ["<tr>" + "".join(f"<td>{e(_n(v))}</td>" for v in row) + "</tr>" for row in section.rows]
            parts.append("</tbody></table>")
        if section.notes:
            parts.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in section.notes) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def to_json(report: dict[str, Any]) -> str:
    return (
        orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS, default=str).decode() + "\n"
    )


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "md":
        return to_markdown(report)
    if fmt == "html":
        return to_html(report)
    if fmt == "json":
        return to_json(report)
    raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
