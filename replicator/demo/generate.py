"""Deterministic generator of the demo's V1 rows. Pure: no I/O, no clock, no global random state.

``generate(scale, seed)`` returns every V1 table's rows plus which rows the earlier batch migration did not
carry to V2. The same (scale, seed) always gives the same rows. The figures come from ``spec``:

* ids have gaps — rows deleted long ago (V1 never cascaded most deletes); orphaned references point into
  those gaps, so a future insert through the table's sequence can never "heal" an orphan by accident;
* archived users took their ids from ``users``' sequence, so the two id sets are disjoint;
* set_null orphans sit in rows present in V2; dead_letter/drop orphans sit only in missing rows, so the
  partially migrated V2 satisfies all 32 foreign keys;
* naive ``timestamp`` values fall between 08:00 and 21:00 local time, never in a DST gap or overlap, so
  converting them to ``timestamptz`` and back is exact.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from replicator.demo import spec

__all__ = ["COLUMNS", "DemoData", "Table", "generate"]

Row = tuple[object, ...]

COLUMNS: dict[str, tuple[str, ...]] = {
    "networks": ("id", "name", "code", "region", "is_active", "created_at"),
    "offices": ("id", "network_id", "name", "city", "state", "phone", "opened_on", "created_at"),
    "users": (
        "id", "email", "first_name", "last_name", "phone", "status", "office_id", "referred_by_user_id",
        "is_admin", "password_hash", "preferences", "created_at", "last_login_at",
    ),
    "archived_users": (
        "id", "email", "first_name", "last_name", "phone", "created_at", "archived_at", "archive_reason",
    ),
    "teams": ("id", "office_id", "lead_agent_id", "name", "created_at"),
    "agents": (
        "id", "user_id", "team_id", "mentor_agent_id", "license_number", "license_state",
        "license_expires_on", "commission_split", "status", "hired_on", "created_at",
    ),
    "customers": (
        "id", "first_name", "last_name", "email", "phone", "segment", "assigned_agent_id", "external_ref",
        "lifetime_value_cents", "do_not_contact", "created_at",
    ),
    "customer_metadata": ("id", "customer_id", "source", "data", "updated_at"),
    "listings": (
        "id", "office_id", "agent_id", "mls_number", "address_line", "city", "state", "zip",
        "property_type", "list_price_cents", "status", "bedrooms", "bathrooms", "sqft", "featured",
        "features", "listed_at", "off_market_at",
    ),
    "listing_photos": ("id", "listing_id", "url", "position", "width", "height", "sha256", "uploaded_at"),
    "showings": (
        "id", "listing_id", "customer_id", "agent_id", "scheduled_at", "duration_minutes", "status",
        "feedback", "rating",
    ),
    "offers": (
        "id", "listing_id", "customer_id", "showing_id", "amount_cents", "status", "contingencies",
        "submitted_at", "expires_at",
    ),
    "transactions": (
        "id", "listing_id", "offer_id", "buyer_customer_id", "sale_price_cents", "closing_costs", "status",
        "escrow_ref", "created_at", "closed_at",
    ),
    "transaction_parties": ("id", "transaction_id", "agent_id", "role", "name", "share_pct"),
    "commissions": ("id", "transaction_id", "agent_id", "amount_cents", "rate", "is_paid", "paid_at"),
    "transaction_logs": ("id", "transaction_id", "user_id", "event", "details", "logged_at"),
    "audit_logs": (
        "id", "user_id", "entity_type", "entity_id", "action", "changes", "ip_address", "created_at",
    ),
    "documents": (
        "id", "transaction_id", "doc_uuid", "filename", "content_type", "size_bytes", "sha256", "tags",
        "uploaded_at",
    ),
    "notes": ("id", "author_user_id", "subject_type", "subject_id", "body", "is_deleted", "created_at"),
}  # fmt: skip
"""V1 column names per table, in ``schemas/v1/schema.sql`` order (the order of each row tuple)."""


@dataclass(frozen=True, slots=True)
class Table:
    """One table's rows: tuples in ``columns`` order, sorted by id."""

    name: str
    columns: tuple[str, ...]
    rows: list[Row]

    def dicts(self) -> list[dict[str, object]]:
        """The rows as column → value dicts (what a decoded change event carries)."""
        cols = self.columns
        return [dict(zip(cols, row, strict=True)) for row in self.rows]


@dataclass(frozen=True, slots=True)
class DemoData:
    """Every V1 table (in load order) and, per partly migrated table, the ids V2 lacks."""

    scale: float
    seed: int
    tables: dict[str, Table]
    missing: dict[str, frozenset[int]]

    @property
    def total_rows(self) -> int:
        return sum(len(t.rows) for t in self.tables.values())


# ---------------------------------------------------------------- vocabulary

_FIRST = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Karen",
    "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty", "Mark", "Sandra", "Sofia", "Ashley", "Steven",
    "Kimberly", "Andrew", "Emily", "Kenji", "Donna", "Joshua", "Michelle", "Kevin", "Carol", "Priya",
    "Amanda", "Wei", "Melissa", "Omar", "Deborah", "Luis", "Stephanie", "Ahmed", "Rebecca",
)  # fmt: skip
_LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
    "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis",
    "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Kim", "Patel", "OConnor", "Schmidt",
)  # fmt: skip
_DOMAINS = ("gmail.com", "Yahoo.com", "outlook.com", "brokerage.example", "ICloud.com", "proton.me")
_CITIES = (
    ("Boston", "MA"), ("Cambridge", "MA"), ("Providence", "RI"), ("Hartford", "CT"), ("New Haven", "CT"),
    ("Albany", "NY"), ("Brooklyn", "NY"), ("Newark", "NJ"), ("Hoboken", "NJ"), ("Philadelphia", "PA"),
    ("Pittsburgh", "PA"), ("Baltimore", "MD"), ("Richmond", "VA"), ("Raleigh", "NC"), ("Charlotte", "NC"),
    ("Atlanta", "GA"), ("Savannah", "GA"), ("Miami", "FL"), ("Orlando", "FL"), ("Tampa", "FL"),
)  # fmt: skip
_REGIONS = ("Northeast", "Mid-Atlantic", "Southeast", "New England", "Tri-State", "Gulf Coast")
_STREETS = ("Maple", "Oak", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park", "Pine", "Main", "Harbor")
_SUFFIXES = ("St", "Ave", "Rd", "Ln", "Dr", "Ct", "Blvd", "Way")
_PROPERTY_TYPES = ("single_family", "condo", "townhouse", "multi_family", "land")
_FEATURES = (
    "garage", "pool", "fireplace", "basement", "solar", "waterfront", "garden", "deck", "elevator",
    "central_air", "hardwood", "new_roof",
)  # fmt: skip
_CONTINGENCIES = ("financing", "inspection", "appraisal", "sale_of_home", "title")
_BATHS = tuple(Decimal(b) for b in ("1.0", "1.5", "2.0", "2.5", "3.0", "3.5", "4.0"))
_SPLITS = tuple(Decimal(s) for s in ("50.00", "60.00", "70.00", "75.00", "80.00", "85.00", "90.00"))
_RATES = tuple(Decimal(r) for r in ("0.0200", "0.0250", "0.0275", "0.0300", "0.0325"))
_SHARES = tuple(Decimal(s) for s in ("25.00", "33.33", "50.00", "66.67", "100.00"))
_FEEDBACK = (
    "Loved the kitchen", "Too small", "Great light, busy street", "Will bring spouse back",
    "Price too high", "Needs work", "Perfect location", "Backyard is a plus",
)  # fmt: skip
_LOG_EVENTS = (
    "opened", "offer_attached", "inspection_scheduled", "appraisal_received", "docs_signed",
    "funds_wired", "closed", "cancelled",
)  # fmt: skip
_ENTITY_TYPES = ("listing", "customer", "offer", "transaction", "showing", "user", "document")
_META_SOURCES = ("web_form", "crm_import", "open_house", "referral_program")
_DOC_TYPES = (
    ("purchase_agreement", "application/pdf"), ("disclosure", "application/pdf"),
    ("inspection_report", "application/pdf"), ("floor_plan", "image/png"), ("title_deed", "image/tiff"),
)  # fmt: skip
_DOC_TAGS = ("signed", "draft", "buyer", "seller", "lender", "confidential", "final")
_ARCHIVE_REASONS = ("left company", "duplicate account", "gdpr request", "inactive 3 years", None)
_NOTE_SUBJECTS = ("customer", "listing", "transaction")
_NOTE_BODIES = (
    "Called back, interested in a second viewing.", "Sent comparables.", "Waiting on lender letter.",
    "Prefers email contact.", "Asked about school district.", "Follow up next week.",
)  # fmt: skip

_BASE = datetime(2017, 1, 2)  # naive, local
_BASE_UTC = datetime(2017, 1, 2, tzinfo=UTC)
_SPAN_DAYS = 2_900  # ~8 years of history
_DAY_START = 8 * 3600
_DAY_END = 21 * 3600


# ---------------------------------------------------------------- generation state


class _Gen:
    """One generation run: the random stream, the id spaces and the orphan plan."""

    def __init__(self, scale: float, seed: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
        self.scale = scale
        self.counts = spec.v1_rows(scale)
        self.orphans = spec.orphans(scale)
        self.missing_counts = spec.missing_in_v2(scale)
        self.ids: dict[str, list[int]] = {}
        self.holes: dict[str, list[int]] = {}
        self.missing_idx: dict[str, list[int]] = {}
        self.deleted_notes: set[int] = set()

    # -- time helpers

    def naive(self, start: int = 0, span: int = _SPAN_DAYS) -> datetime:
        """A naive local timestamp between 08:00 and 21:00 on a day in [start, start + span)."""
        r = self.rng.randrange
        return _BASE + timedelta(days=start + r(span), seconds=r(_DAY_START, _DAY_END))

    def aware(self) -> datetime:
        """A UTC timestamp with microseconds."""
        r = self.rng.randrange
        return _BASE_UTC + timedelta(days=r(_SPAN_DAYS), seconds=r(86_400), microseconds=r(1_000_000))

    def day(self, start: int = 0, span: int = _SPAN_DAYS) -> date:
        return (_BASE + timedelta(days=start + self.rng.randrange(span))).date()

    def uuid4(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def person(self) -> tuple[str, str]:
        return self.rng.choice(_FIRST), self.rng.choice(_LAST)

    def email(self, first: str, last: str, ident: int) -> str:
        # Mixed case as typed at sign-up; the id keeps it unique (V2 lower-cases it).
        return f"{first}.{last}{ident}@{self.rng.choice(_DOMAINS)}"

    def phone(self, blank_ratio: float) -> str:
        r = self.rng
        if r.random() < blank_ratio:
            return ""
        return f"({r.randrange(201, 990)}) 555-{r.randrange(10_000):04d}"

    def pick(self, table: str, null_ratio: float = 0.0) -> int | None:
        """A live id of ``table`` (None with probability ``null_ratio``)."""
        if null_ratio and self.rng.random() < null_ratio:
            return None
        return self.rng.choice(self.ids[table])

    # -- id spaces

    def plan_ids(self) -> None:
        """Live ids per table, with gaps (deleted rows) in parent tables that orphans point to."""
        r = self.rng
        orphan_parents = {rel.references for rel in spec.RELATIONSHIPS if rel.orphans}
        for table, n in self.counts.items():
            if table == "archived_users":
                continue
            holes = max(1, n // 40) if table in orphan_parents else 0
            extra = self.counts["archived_users"] if table == "users" else 0
            space = n + holes + extra
            # Never the last id: the highest id ever issued is live, so the sequence continues past it.
            taken = r.sample(range(1, space), holes + extra)
            gone = set(taken)
            self.ids[table] = [i for i in range(1, space + 1) if i not in gone]
            self.holes[table] = sorted(taken[extra:])
            if extra:
                self.ids["archived_users"] = sorted(taken[:extra])

    def plan_missing(self) -> None:
        """Which rows (by index) the batch migration did not carry, and which notes are soft-deleted."""
        r = self.rng
        for table, m in self.missing_counts.items():
            n = self.counts[table]
            if table == "audit_logs":
                self.missing_idx[table] = list(range(n - m, n))  # the batch job stopped part-way
            elif m >= n:
                self.missing_idx[table] = list(range(n))
            else:
                self.missing_idx[table] = sorted(r.sample(range(n), m))
        self.deleted_notes = set(r.sample(range(self.counts["notes"]), spec.soft_deleted_notes(self.scale)))

    def orphan_plan(self) -> dict[tuple[str, str], dict[int, int]]:
        """(V1 table, column) → {row index: orphaned parent id}, per the spec's counts and placement."""
        r = self.rng
        plan: dict[tuple[str, str], dict[int, int]] = {}
        cursor: dict[str, int] = {}
        for rel in spec.RELATIONSHIPS:
            k = self.orphans[rel.name]
            if not k:
                continue
            if rel.policy is spec.Policy.SET_NULL:
                n = self.counts[rel.table]
                skip = self.deleted_notes if rel.table == "notes" else set()
                rows = r.sample([i for i in range(n) if i not in skip], k)
            else:
                # Only rows V2 lacks: the batch migration never wrote them, so V2's FKs hold.
                missing = self.missing_idx[rel.table]
                if k > len(missing):
                    raise ValueError(f"{rel.name}: {k} orphans but only {len(missing)} missing rows")
                start = cursor.get(rel.table, 0)
                rows = [missing[(start + j) % len(missing)] for j in range(k)]
                cursor[rel.table] = start + k
            holes = self.holes[rel.references]
            plan[(rel.table, rel.column)] = {i: r.choice(holes) for i in rows}
        return plan


# ---------------------------------------------------------------- per-table row makers

_Maker = Callable[[_Gen], list[list[object]]]


def _networks(g: _Gen) -> list[list[object]]:
    r = g.rng
    out: list[list[object]] = []
    for i, ident in enumerate(g.ids["networks"]):
        region = _REGIONS[i % len(_REGIONS)]
        name = f"{region} Realty Network {ident}"
        out.append([ident, name, f"NW{ident:03d}", region, "N" if r.random() < 0.15 else "Y", g.naive(0, 60)])
    return out


def _offices(g: _Gen) -> list[list[object]]:
    r = g.rng
    out: list[list[object]] = []
    for ident in g.ids["offices"]:
        city, state = r.choice(_CITIES)
        out.append(
            [ident, g.pick("networks"), f"{city} Office #{ident}", city, state, g.phone(0.1),
             g.day(-3000, 3000), g.naive(0, 400)]
        )  # fmt: skip
    return out


def _users(g: _Gen) -> list[list[object]]:
    r = g.rng
    out: list[list[object]] = []
    ids = g.ids["users"]
    for i, ident in enumerate(ids):
        first, last = g.person()
        status = r.choices((1, 2, 3), (85, 5, 10))[0]
        referrer = ids[r.randrange(i)] if i and r.random() < 0.25 else None  # referrers signed up first
        prefs = (
            f'{{"theme": "{r.choice(("light", "dark"))}", "newsletter": {r.choice(("true", "false"))}, '
            f'"lang": "{r.choice(("en", "es", "fr"))}", "page_size": {r.choice((20, 50, 100))}}}'
        )
        out.append(
            [ident, g.email(first, last, ident), first, last, g.phone(0.2), status, g.pick("offices", 0.1),
             referrer, "Y" if r.random() < 0.02 else "N", f"$2b${r.getrandbits(200):050x}", prefs,
             g.naive(), None if r.random() < 0.15 else g.aware()]
        )  # fmt: skip
    return out


def _archived_users(g: _Gen) -> list[list[object]]:
    r = g.rng
    out: list[list[object]] = []
    for ident in g.ids["archived_users"]:
        first, last = g.person()
        created = g.naive(0, 1500)
        archived = created + timedelta(days=r.randrange(30, 1300))
        out.append(
            [ident, g.email(first, last, ident), first, last, g.phone(0.3), created, archived,
             r.choice(_ARCHIVE_REASONS)]
        )  # fmt: skip
    return out


def _agents(g: _Gen) -> list[list[object]]:
    r = g.rng
    out: list[list[object]] = []
    ids = g.ids["agents"]
    users = r.sample(g.ids["users"], len(ids))  # one agent per user
    for i, ident in enumerate(ids):
        state = r.choice(_CITIES)[1]
        mentor = ids[r.randrange(i)] if i and r.random() < 0.3 else None
        out.append(
            [ident, users[i], g.pick("teams", 0.08), mentor, f"{state}-{r.randrange(10**7):07d}", state,
             None if r.random() < 0.1 else g.day(2500, 1500), r.choice(_SPLITS),
             r.choices((1, 2, 3), (88, 9, 3))[0], g.day(0, 2600), g.naive()]
        )  # fmt: skip
    return out


def _teams(g: _Gen, agents: Sequence[list[object]]) -> list[list[object]]:
    """Teams come after agents in generation (not in load order): a lead is one of the team's members."""
    r = g.rng
    members: dict[object, list[int]] = {}
    for row in agents:
        members.setdefault(row[2], []).append(row[0])  # type: ignore[arg-type]
    out: list[list[object]] = []
    for ident in g.ids["teams"]:
        crew = members.get(ident)
        lead = r.choice(crew) if crew and r.random() < 0.9 else None
        name = f"Team {r.choice(_LAST)} {ident}" + ("  " if r.random() < 0.2 else "")
        out.append([ident, g.pick("offices", 0.03), lead, name, g.naive(0, 600)])
    return out


def _customers(g: _Gen) -> list[list[object]]:
    r = g.rng
    out: list[list[object]] = []
    for ident in g.ids["customers"]:
        first, last = g.person()
        email = None if r.random() < 0.15 else g.email(first, last, ident)
        out.append(
            [ident, first, last, email, g.phone(0.2), r.choices((1, 2, 3, 4), (50, 25, 10, 15))[0],
             g.pick("agents", 0.2), g.uuid4(), r.randrange(0, 250_000) * 100 + r.randrange(100),
             "Y" if r.random() < 0.05 else "N", g.naive()]
        )  # fmt: skip
    return out


def _customer_metadata(g: _Gen) -> list[list[object]]:
    r = g.rng
    out: list[list[object]] = []
    for ident in g.ids["customer_metadata"]:
        areas = ", ".join(f'"{c}"' for c, _ in r.sample(_CITIES, r.randrange(1, 4)))
        data = (
            f'{{"budget_max": {r.randrange(150, 3000) * 1000}, "preferred_areas": [{areas}], '
            f'"pre_approved": {r.choice(("true", "false"))}, "bedrooms_min": {r.randrange(1, 5)}}}'
        )
        out.append([ident, g.pick("customers"), r.choice(_META_SOURCES), data, g.naive()])
    return out


def _listings(g: _Gen) -> list[list[object]]:
    r = g.rng
    out: list[list[object]] = []
    for ident in g.ids["listings"]:
        city, state = r.choice(_CITIES)
        status = r.choices((1, 2, 3, 4, 5), (30, 10, 40, 10, 10))[0]
        listed = g.naive(0, 2700)
        off_market = listed + timedelta(days=r.randrange(5, 200)) if status >= 3 else None
        out.append(
            [ident, g.pick("offices"), g.pick("agents", 0.03), f"MLS{ident:08d}",
             f"{r.randrange(1, 9999)} {r.choice(_STREETS)} {r.choice(_SUFFIXES)}", city, state,
             f"{r.randrange(1000, 99999):05d}", r.choice(_PROPERTY_TYPES), r.randrange(150, 2500) * 100_000,
             status, r.randrange(1, 7), r.choice(_BATHS), r.randrange(500, 6000),
             1 if r.random() < 0.1 else 0, r.sample(_FEATURES, r.randrange(0, 5)), listed, off_market]
        )  # fmt: skip
    return out


def _listing_photos(g: _Gen) -> list[list[object]]:
    r = g.rng
    out: list[list[object]] = []
    for ident in g.ids["listing_photos"]:
        listing = g.pick("listings")
        width, height = r.choice(((1920, 1080), (1280, 960), (4032, 3024), (800, 600)))
        out.append(
            [ident, listing, f"https://cdn.brokerage.example/listings/{listing}/{ident}.jpg",
             r.randrange(1, 30), width, height, r.randbytes(32), g.aware()]
        )  # fmt: skip
    return out


def _showings(g: _Gen) -> list[list[object]]:
    r = g.rng
    out: list[list[object]] = []
    for ident in g.ids["showings"]:
        status = r.choices((1, 2, 3, 4), (15, 65, 12, 8))[0]
        feedback = r.choice(_FEEDBACK) if status == 2 and r.random() < 0.6 else ""
        rating = r.randrange(1, 6) if status == 2 and r.random() < 0.7 else None
        out.append(
            [ident, g.pick("listings"), g.pick("customers"), g.pick("agents", 0.05), g.naive(),
             r.choice((15, 30, 45, 60)), status, feedback, rating]
        )  # fmt: skip
    return out


def _offers(g: _Gen) -> list[list[object]]:
    r = g.rng
    out: list[list[object]] = []
    for ident in g.ids["offers"]:
        submitted = g.naive()
        out.append(
            [ident, g.pick("listings"), g.pick("customers"), g.pick("showings", 0.4),
             r.randrange(1_400, 24_000) * 10_000 + r.choice((0, 50_000)),
             r.choices((1, 2, 3, 4, 5), (20, 15, 30, 25, 10))[0],
             r.sample(_CONTINGENCIES, r.randrange(0, 3)), submitted, submitted + timedelta(days=3)]
        )  # fmt: skip
    return out


def _transactions(g: _Gen) -> list[list[object]]:
    r = g.rng
    out: list[list[object]] = []
    for ident in g.ids["transactions"]:
        status = r.choices((1, 2, 3), (20, 70, 10))[0]
        created = g.naive(0, 2800)
        closed = created + timedelta(days=r.randrange(20, 90)) if status == 2 else None
        out.append(
            [ident, g.pick("listings"), g.pick("offers", 0.25), g.pick("customers"),
             r.randrange(1_400, 24_000) * 10_000, Decimal(r.randrange(200_000, 3_000_000)).scaleb(-2), status,
             g.uuid4(), created, closed]
        )  # fmt: skip
    return out


def _transaction_parties(g: _Gen) -> list[list[object]]:
    r = g.rng
    out: list[list[object]] = []
    for ident in g.ids["transaction_parties"]:
        role = r.choices((1, 2, 3, 4), (35, 35, 20, 10))[0]
        agent = g.pick("agents") if role <= 2 else None
        first, last = g.person()
        out.append([ident, g.pick("transactions"), agent, role, f"{first} {last}", r.choice(_SHARES)])
    return out


def _commissions(g: _Gen) -> list[list[object]]:
    r = g.rng
    out: list[list[object]] = []
    for ident in g.ids["commissions"]:
        paid = r.random() < 0.7
        out.append(
            [ident, g.pick("transactions"), g.pick("agents"), r.randrange(200_000, 6_000_000),
             r.choice(_RATES), "Y" if paid else "N", g.aware() if paid else None]
        )  # fmt: skip
    return out


def _transaction_logs(g: _Gen) -> list[list[object]]:
    r = g.rng
    out: list[list[object]] = []
    for ident in g.ids["transaction_logs"]:
        event = r.choice(_LOG_EVENTS)
        details: dict[str, object] = {
            "event": event,
            "seq": r.randrange(1, 40),
            "automated": r.random() < 0.3,
        }
        if event == "funds_wired":
            details["amount"] = str(Decimal(r.randrange(100_000, 90_000_000)).scaleb(-2))
        out.append([ident, g.pick("transactions"), g.pick("users"), event, details, g.aware()])
    return out


def _audit_logs(g: _Gen) -> list[list[object]]:
    r = g.rng
    ids = g.ids["audit_logs"]
    times = sorted(g.naive() for _ in ids)  # ids follow time: the batch job's cut-off is a point in time
    out: list[list[object]] = []
    for ident, created in zip(ids, times, strict=True):
        action = r.choices((1, 2, 3, 4, 5), (20, 45, 5, 25, 5))[0]
        changes = (
            f'{{"field": "{r.choice(("status", "price", "email", "owner", "notes"))}", '
            f'"old": {r.randrange(100)}, "new": {r.randrange(100)}}}'
            if action in (1, 2, 3)
            else f'{{"client": "{r.choice(("web", "ios", "android"))}"}}'
        )
        out.append(
            [ident, g.pick("users"), r.choice(_ENTITY_TYPES), r.randrange(1, 60_000), action, changes,
             f"10.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}", created]
        )  # fmt: skip
    return out


def _documents(g: _Gen) -> list[list[object]]:
    r = g.rng
    out: list[list[object]] = []
    for ident in g.ids["documents"]:
        kind, content_type = r.choice(_DOC_TYPES)
        ext = content_type.rsplit("/", 1)[1]
        out.append(
            [ident, g.pick("transactions", 0.05), g.uuid4(), f"{kind}_{ident}.{ext}", content_type,
             r.randrange(20_000, 25_000_000), r.randbytes(32), r.sample(_DOC_TAGS, r.randrange(0, 4)),
             g.aware()]
        )  # fmt: skip
    return out


def _notes(g: _Gen) -> list[list[object]]:
    r = g.rng
    out: list[list[object]] = []
    for i, ident in enumerate(g.ids["notes"]):
        out.append(
            [ident, g.pick("users", 0.02), r.choice(_NOTE_SUBJECTS), r.randrange(1, 30_000),
             r.choice(_NOTE_BODIES), "Y" if i in g.deleted_notes else "N", g.naive()]
        )  # fmt: skip
    return out


_MAKERS: dict[str, _Maker] = {
    "networks": _networks,
    "offices": _offices,
    "users": _users,
    "archived_users": _archived_users,
    "agents": _agents,
    "customers": _customers,
    "customer_metadata": _customer_metadata,
    "listings": _listings,
    "listing_photos": _listing_photos,
    "showings": _showings,
    "offers": _offers,
    "transactions": _transactions,
    "transaction_parties": _transaction_parties,
    "commissions": _commissions,
    "transaction_logs": _transaction_logs,
    "audit_logs": _audit_logs,
    "documents": _documents,
    "notes": _notes,
}


def _id(row: Row) -> int:
    ident = row[0]
    assert isinstance(ident, int)
    return ident


def generate(scale: float = 1.0, seed: int = spec.DEFAULT_SEED) -> DemoData:
    """Every V1 row of the demo at ``scale``, deterministic in (scale, seed)."""
    g = _Gen(scale, seed)
    g.plan_ids()
    g.plan_missing()
    plan = g.orphan_plan()
    raw: dict[str, list[list[object]]] = {}
    for table, maker in _MAKERS.items():
        raw[table] = maker(g)
        if table == "agents":
            raw["teams"] = _teams(g, raw["agents"])
    tables: dict[str, Table] = {}
    for table in spec.V1_ROWS:  # load order
        columns = COLUMNS[table]
        rows = raw[table]
        for (child, column), orphans in plan.items():
            if child == table:
                position = columns.index(column)
                for index, parent_id in orphans.items():
                    rows[index][position] = parent_id
        tables[table] = Table(table, columns, [tuple(row) for row in rows])
    missing = {
        table: frozenset(_id(tables[table].rows[i]) for i in indices)
        for table, indices in g.missing_idx.items()
    }
    return DemoData(scale=scale, seed=seed, tables=tables, missing=missing)
