"""The demo scenario's numbers: the single source of truth for generator, loader and tests.

The figures reproduce the migration epic (``shared/seeds/000_*.md``): a real-estate brokerage whose V1
database has 32 foreign-key relationships, 26 of them with orphans (1,022 orphaned references in total),
~296K rows, and a V2 left by an earlier batch migration that lacks 47,121 rows in four tables.

Everything here is at scale 1.0; the ``scaled_*`` functions give the figures for another scale. Every
count is scaled with round-half-up (``scaled``); a figure that is non-zero at scale 1.0 never scales
below 1, so a small demo keeps the same shape (every orphaned relationship keeps an orphan, every
partly-migrated table keeps a missing row).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_SEED = 20_240_601
"""The seed the demo uses unless told otherwise."""

LOCAL_TZ = "America/New_York"
"""The zone V1's naive ``timestamp`` columns were written in (the brokerage's head office)."""


class Policy(StrEnum):
    """What the replicator does with a child whose parent never arrives (mapping ``on_orphan``)."""

    DEAD_LETTER = "dead_letter"
    SET_NULL = "set_null"
    DROP = "drop"


# V1 tables in dependency order (parents first; the teams ↔ agents cycle is broken at teams.lead_agent_id).
V1_ROWS: dict[str, int] = {
    "networks": 12,
    "offices": 140,
    "users": 9_400,
    "archived_users": 296,
    "teams": 420,
    "agents": 2_600,
    "customers": 26_000,
    "customer_metadata": 9_800,
    "listings": 14_500,
    "listing_photos": 52_000,
    "showings": 36_000,
    "offers": 9_800,
    "transactions": 4_100,
    "transaction_parties": 12_300,
    "commissions": 7_400,
    "transaction_logs": 21_600,
    "audit_logs": 48_600,
    "documents": 11_200,
    "notes": 30_000,
}
"""Rows per V1 table at scale 1.0 (296,168 in total)."""

MISSING_IN_V2: dict[str, int] = {
    "audit_logs": 45_600,
    "customer_metadata": 1_200,
    "transaction_logs": 25,
    "archived_users": 296,
}
"""V1 rows the earlier batch migration did not carry to V2 (47,121 in total)."""

SOFT_DELETED_NOTES = 2_600
"""V1 notes flagged ``is_deleted = 'Y'``: the mapping's row filter keeps them out of V2 by design."""


@dataclass(frozen=True, slots=True)
class Relationship:
    """One foreign-key relationship, named as in ``schemas/mapping.yaml``.

    ``table``/``column``/``references`` are V1 names (the parent key is always ``id``); ``v2_table`` and
    ``v2_column`` are the names in V2. ``declared_in_v1`` tells whether V1 enforces it with a constraint.
    """

    name: str
    table: str
    column: str
    references: str
    v2_table: str
    v2_column: str
    nullable: bool
    policy: Policy
    orphans: int
    declared_in_v1: bool = False


def _rel(
    name: str,
    child: str,
    references: str,
    orphans: int,
    policy: Policy,
    *,
    nullable: bool = True,
    v2_table: str | None = None,
    v2_column: str | None = None,
    declared_in_v1: bool = False,
) -> Relationship:
    table, column = child.split(".")
    return Relationship(
        name=name,
        table=table,
        column=column,
        references=references,
        v2_table=v2_table or table,
        v2_column=v2_column or column,
        nullable=nullable,
        policy=policy,
        orphans=orphans,
        declared_in_v1=declared_in_v1,
    )


_D, _S, _X = Policy.DEAD_LETTER, Policy.SET_NULL, Policy.DROP

RELATIONSHIPS: tuple[Relationship, ...] = (
    # The six clean ones. Five are enforced by V1 constraints; agent_licenses is the V2 half of the
    # agents SPLIT, whose link to agents is the V1 row itself and so cannot be orphaned.
    _rel("offices_network", "offices.network_id", "networks", 0, _D, nullable=False, declared_in_v1=True),
    _rel("agents_user", "agents.user_id", "users", 0, _D, nullable=False, declared_in_v1=True),
    _rel("agent_licenses_agent", "agents.id", "agents", 0, _D, nullable=False,
         v2_table="agent_licenses", v2_column="agent_id"),
    _rel("listing_media_listing", "listing_photos.listing_id", "listings", 0, _D, nullable=False,
         v2_table="listing_media", declared_in_v1=True),
    _rel("transaction_parties_transaction", "transaction_parties.transaction_id", "transactions", 0, _D,
         nullable=False, declared_in_v1=True),
    _rel("commissions_transaction", "commissions.transaction_id", "transactions", 0, _D, nullable=False,
         declared_in_v1=True),
    # The 26 with orphans. set_null ones sit in nullable columns the batch migration set to NULL in V2;
    # dead_letter/drop ones sit only in rows the batch migration did not carry (MISSING_IN_V2).
    _rel("teams_office", "teams.office_id", "offices", 7, _S),
    _rel("teams_lead_agent", "teams.lead_agent_id", "agents", 11, _S),
    _rel("agents_team", "agents.team_id", "teams", 23, _S),
    _rel("agents_mentor", "agents.mentor_agent_id", "agents", 14, _S),
    _rel("users_office", "users.office_id", "offices", 38, _S),
    _rel("users_referred_by", "users.referred_by_user_id", "users", 61, _S),
    _rel("customers_agent", "customers.assigned_agent_id", "agents", 87, _S, v2_column="agent_id"),
    _rel("customer_metadata_customer", "customer_metadata.customer_id", "customers", 142, _D,
         nullable=False),
    _rel("listings_office", "listings.office_id", "offices", 19, _S),
    _rel("listings_agent", "listings.agent_id", "agents", 44, _S, v2_column="listing_agent_id"),
    _rel("showings_listing", "showings.listing_id", "listings", 73, _S),
    _rel("showings_customer", "showings.customer_id", "customers", 96, _S),
    _rel("showings_agent", "showings.agent_id", "agents", 52, _S),
    _rel("offers_listing", "offers.listing_id", "listings", 31, _S),
    _rel("offers_customer", "offers.customer_id", "customers", 48, _S),
    _rel("offers_showing", "offers.showing_id", "showings", 27, _S),
    _rel("transactions_listing", "transactions.listing_id", "listings", 9, _S),
    _rel("transactions_offer", "transactions.offer_id", "offers", 12, _S),
    _rel("transactions_buyer", "transactions.buyer_customer_id", "customers", 17, _S),
    _rel("transaction_parties_agent", "transaction_parties.agent_id", "agents", 21, _S),
    _rel("commissions_agent", "commissions.agent_id", "agents", 26, _S),
    _rel("transaction_logs_transaction", "transaction_logs.transaction_id", "transactions", 8, _D,
         nullable=False),
    _rel("transaction_logs_user", "transaction_logs.user_id", "users", 5, _X, nullable=False),
    _rel("audit_logs_user", "audit_logs.user_id", "users", 98, _X, nullable=False),
    _rel("documents_transaction", "documents.transaction_id", "transactions", 33, _S),
    _rel("notes_author", "notes.author_user_id", "users", 20, _S),
)  # fmt: skip
"""All 32 relationships; ``orphans`` is the number of orphaned references at scale 1.0."""


def scaled(count: int, scale: float) -> int:
    """``count`` at ``scale``, rounded half up; never below 1 when ``count`` is positive."""
    if count <= 0:
        return 0
    return max(1, math.floor(count * scale + 0.5))


def _check_scale(scale: float) -> None:
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, got {scale!r}")


def v1_rows(scale: float = 1.0) -> dict[str, int]:
    """Rows per V1 table at ``scale``."""
    _check_scale(scale)
    return {table: scaled(n, scale) for table, n in V1_ROWS.items()}


def missing_in_v2(scale: float = 1.0) -> dict[str, int]:
    """V1 rows absent from the partially migrated V2, per V1 table, at ``scale``."""
    _check_scale(scale)
    rows = v1_rows(scale)
    return {table: min(rows[table], scaled(n, scale)) for table, n in MISSING_IN_V2.items()}


def orphans(scale: float = 1.0) -> dict[str, int]:
    """Orphaned references per relationship name at ``scale`` (0 for the six clean relationships)."""
    _check_scale(scale)
    return {rel.name: scaled(rel.orphans, scale) for rel in RELATIONSHIPS}


def soft_deleted_notes(scale: float = 1.0) -> int:
    """Notes the mapping filters out of V2, at ``scale``."""
    _check_scale(scale)
    return scaled(SOFT_DELETED_NOTES, scale)


def v2_rows(scale: float = 1.0) -> dict[str, int]:
    """Rows per V2 table in the partially migrated V2, at ``scale``.

    Follows the mapping: users + archived_users merge into ``users``; agents split into ``agents`` +
    ``agent_licenses``; listing_photos is renamed ``listing_media``; soft-deleted notes are filtered out.
    """
    rows, missing = v1_rows(scale), missing_in_v2(scale)
    present = {table: n - missing.get(table, 0) for table, n in rows.items()}
    out: dict[str, int] = {}
    for table, n in present.items():
        if table == "archived_users":
            out["users"] += n
        elif table == "listing_photos":
            out["listing_media"] = n
        elif table == "notes":
            out["notes"] = n - soft_deleted_notes(scale)
        else:
            out[table] = n
        if table == "agents":
            out["agent_licenses"] = n
    return out
