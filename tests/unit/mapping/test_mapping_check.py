"""check_mapping against catalog snapshots, format_fk_graph, and read_catalog's row handling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from replicator.errors import ConfigError
from replicator.mapping.catalog import Catalog, CatalogColumn, CatalogTable, ForeignKey, read_catalog
from replicator.mapping.check import Finding, Level, check_mapping, format_fk_graph, require_valid
from replicator.mapping.model import Mapping

MAPPING = """
version: 1
tables:
  - name: users
    source: users
    target: users
    key: [id]
    columns:
      id: id
      email: email_address
      created_at: {from: created, transform: naive_to_timestamptz, args: {tz: UTC}}
      balance: {from: balance_cents, transform: cents_to_numeric}
    drop: [legacy]
  - name: orders
    source: orders
    target: orders
    key: [id]
    columns:
      id: id
      user_id: user_id
relationships:
  - {name: orders_user, table: orders, columns: [user_id], references: users, ref_columns: [id]}
"""


def col(name: str, base: str, *, nullable: bool = True, **kw: Any) -> CatalogColumn:
    return CatalogColumn(name=name, type_name=base, base_type=base, nullable=nullable, **kw)


def v1_catalog(**overrides: CatalogTable) -> Catalog:
    tables = {
        "users": CatalogTable(
            "users",
            (
                col("id", "int4", nullable=False),
                col("email_address", "varchar", nullable=False),
                col("created", "timestamp"),
                col("balance_cents", "int8"),
                col("legacy", "text"),
            ),
            primary_key=("id",),
        ),
        "orders": CatalogTable(
            "orders", (col("id", "int4", nullable=False), col("user_id", "int4")), primary_key=("id",)
        ),
    }
    tables.update(overrides)
    return Catalog("public", tables)


def v2_catalog(**overrides: CatalogTable) -> Catalog:
    tables = {
        "users": CatalogTable(
            "users",
            (
                col("id", "int8", nullable=False),
                col("email", "text", nullable=False),
                col("created_at", "timestamptz"),
                col("balance", "numeric"),
                col("updated_at", "timestamptz", nullable=False, has_default=True),
            ),
            primary_key=("id",),
        ),
        "orders": CatalogTable(
            "orders",
            (col("id", "int8", nullable=False), col("user_id", "int8")),
            primary_key=("id",),
            foreign_keys=(ForeignKey("orders_user_id_fkey", ("user_id",), "public", "users", ("id",)),),
        ),
    }
    tables.update(overrides)
    return Catalog("public", tables)


@pytest.fixture
def mapping(load: Callable[[str], Mapping]) -> Mapping:
    return load(MAPPING)


def errors(findings: list[Finding]) -> list[str]:
    return [str(f) for f in findings if f.level is Level.ERROR]


def warnings(findings: list[Finding]) -> list[str]:
    return [str(f) for f in findings if f.level is Level.WARNING]


def only(findings: list[str]) -> str:
    assert len(findings) == 1, findings
    return findings[0]


def test_clean_mapping_has_no_findings(mapping: Mapping) -> None:
    """A mapping that fits both catalogs yields no findings."""
    assert check_mapping(mapping, v1_catalog(), v2_catalog()) == []


def test_missing_v1_table(mapping: Mapping) -> None:
    """A missing V1 table is an error at tables.<name>.source listing existing tables."""
    v1 = v1_catalog()
    v1 = Catalog("public", {k: v for k, v in v1.tables.items() if k != "orders"})
    finding = only(errors(check_mapping(mapping, v1, v2_catalog())))
    assert finding.startswith("error: tables.orders.source: V1 table public.orders does not exist")
    assert "valid: users" in finding


def test_missing_v2_table(mapping: Mapping) -> None:
    """A missing V2 table is an error at tables.<name>.target (and at the relationship using it)."""
    v2 = Catalog("public", {"users": v2_catalog().tables["users"]})
    found = errors(check_mapping(mapping, v1_catalog(), v2))
    assert any(
        f.startswith("error: tables.orders.target: V2 table public.orders does not exist") for f in found
    )
    assert any(f.startswith("error: relationships.orders_user.table:") for f in found)


def test_missing_v1_column(mapping: Mapping) -> None:
    """A from column absent in V1 is an error at columns.<col>.from."""
    users = v1_catalog().tables["users"]
    v1 = v1_catalog(users=CatalogTable("users", users.columns[:1] + users.columns[2:], ("id",)))
    finding = only(errors(check_mapping(mapping, v1, v2_catalog())))
    assert finding.startswith(
        "error: tables.users.columns.email.from: V1 column users.email_address does not exist"
    )


def test_missing_v2_column(load: Callable[[str], Mapping]) -> None:
    """A mapped V2 column absent from the V2 table is an error naming it, listing the real columns."""
    mapping = load(
        MAPPING.replace("      user_id: user_id\n", "      user_id: user_id\n      note: {const: x}\n")
    )
    finding = only(errors(check_mapping(mapping, v1_catalog(), v2_catalog())))
    assert finding.startswith("error: tables.orders.columns.note: V2 column orders.note does not exist")
    assert "valid: id, user_id" in finding


def test_a_worker_or_the_load_refuses_a_mapping_with_errors(load: Callable[[str], Mapping]) -> None:
    """``require_valid`` (run before anything is consumed or loaded) names the first error's field, the
    mapping file and what is valid, and says how many more errors there are."""
    mapping = load(
        MAPPING.replace("      user_id: user_id\n", "      user_id: user_id\n      note: {const: x}\n")
    )
    v1 = Catalog("public", {"users": v1_catalog().tables["users"]})  # and V1 lacks orders
    with pytest.raises(ConfigError) as info:
        require_valid(mapping, v1, v2_catalog(), source="schemas/mapping.yaml")
    error = info.value
    assert (error.field, error.source) == ("tables.orders.source", "schemas/mapping.yaml")
    assert error.valid == "users"
    assert "and 1 more: `replicator mapping check` lists every error" in str(error)


def test_a_valid_mapping_passes_with_its_warnings(load: Callable[[str], Mapping]) -> None:
    """Warnings do not stop a worker: they are returned for its log."""
    mapping = load(MAPPING.replace("    drop: [legacy]\n", ""))
    found = require_valid(mapping, v1_catalog(), v2_catalog(), source="m.yaml")
    assert [f.level for f in found] == [Level.WARNING]


def test_unfed_not_null_column(mapping: Mapping) -> None:
    """A NOT NULL V2 column without default that a mapping does not feed is an error."""
    orders = v2_catalog().tables["orders"]
    v2 = v2_catalog(
        orders=CatalogTable(
            "orders", (*orders.columns, col("total", "numeric", nullable=False)), ("id",), orders.foreign_keys
        )
    )
    finding = only(errors(check_mapping(mapping, v1_catalog(), v2)))
    assert finding.startswith(
        "error: tables.orders.columns: V2 column orders.total is NOT NULL without a default"
    )


def test_unfed_not_null_column_in_merge(load: Callable[[str], Mapping]) -> None:
    """In a merge, every table mapping targeting the table must feed its NOT NULL columns."""
    extra = "  - {name: old_orders, source: orders, target: orders, key: [id], columns: {id: id}}\n"
    mapping = load(MAPPING.replace("relationships:", extra + "relationships:"))
    orders = v2_catalog().tables["orders"]
    v2 = v2_catalog(
        orders=CatalogTable(
            "orders",
            (orders.columns[0], col("user_id", "int8", nullable=False)),
            ("id",),
            orders.foreign_keys,
        )
    )
    found = errors(check_mapping(mapping, v1_catalog(), v2))
    assert any(
        f.startswith("error: tables.old_orders.columns: V2 column orders.user_id is NOT NULL") for f in found
    )


def test_unused_v1_column_warns(load: Callable[[str], Mapping]) -> None:
    """A V1 column neither mapped nor dropped is a warning naming it."""
    mapping = load(MAPPING.replace("    drop: [legacy]\n", ""))
    finding = only(warnings(check_mapping(mapping, v1_catalog(), v2_catalog())))
    assert finding.startswith(
        "warning: tables.users.drop: V1 columns of users neither mapped nor dropped: legacy"
    )


def test_direct_copy_type_mismatch(load: Callable[[str], Mapping]) -> None:
    """Copying timestamp into timestamptz is an error suggesting naive_to_timestamptz."""
    mapping = load(
        MAPPING.replace("{from: created, transform: naive_to_timestamptz, args: {tz: UTC}}", "created")
    )
    finding = only(errors(check_mapping(mapping, v1_catalog(), v2_catalog())))
    assert finding.startswith("error: tables.users.columns.created_at: V1 timestamp cannot be copied into V2")
    assert "naive_to_timestamptz" in finding


def test_transform_input_type_mismatch(load: Callable[[str], Mapping]) -> None:
    """A transform given a V1 column of the wrong family is an error at .from."""
    mapping = load(
        MAPPING.replace("{from: balance_cents,", "{from: legacy,").replace("drop: [legacy]", "drop: []")
    )
    found = errors(check_mapping(mapping, v1_catalog(), v2_catalog()))
    assert any(
        f.startswith("error: tables.users.columns.balance.from: transform cents_to_numeric does not accept")
        for f in found
    )


def test_transform_output_type_mismatch(mapping: Mapping) -> None:
    """A transform whose output does not fit the V2 column is an error at .transform."""
    users = v2_catalog().tables["users"]
    cols = tuple(col("balance", "bool") if c.name == "balance" else c for c in users.columns)
    v2 = v2_catalog(users=CatalogTable("users", cols, ("id",)))
    finding = only(errors(check_mapping(mapping, v1_catalog(), v2)))
    assert finding.startswith(
        "error: tables.users.columns.balance.transform: transform cents_to_numeric produces"
    )


def test_a_numeric_array_warns_that_debezium_nulls_nan_and_infinity(mapping: Mapping) -> None:
    """Debezium sends null for a numeric[] holding NaN or ±Infinity: the check says so, and what finds
    and fixes such rows."""
    users = v1_catalog().tables["users"]
    amounts = CatalogColumn(name="balance_cents", type_name="numeric[]", base_type="numeric", is_array=True)
    v1 = v1_catalog(users=CatalogTable("users", (*users.columns[:3], amounts, users.columns[4]), ("id",)))
    found = [w for w in warnings(check_mapping(mapping, v1, v2_catalog())) if "Debezium" in w]
    assert only(found).startswith("warning: tables.users.columns: V1 column users.balance_cents: Debezium")
    assert "NaN or ±Infinity" in found[0] and "repair missing" in found[0]


def test_a_partitioned_source_warns_that_a_partitions_truncate_is_not_published(mapping: Mapping) -> None:
    users = v1_catalog().tables["users"]
    v1 = v1_catalog(users=CatalogTable("users", users.columns, ("id",), partitioned=True))
    found = only([w for w in warnings(check_mapping(mapping, v1, v2_catalog())) if "partition" in w])
    assert found.startswith("warning: tables.users.source: V1 table users is partitioned")
    assert "TRUNCATE of one of its partitions is not published" in found and "repair extra" in found


@pytest.mark.parametrize(
    ("base", "array", "level", "says"),
    [
        ("timetz", False, Level.WARNING, "in UTC"),
        ("varbit", False, Level.WARNING, "without its length"),
        ("tsvector", False, Level.ERROR, "does not send tsvector"),
        ("bit", True, Level.ERROR, "null for every bit(n)[] value"),
        ("varbit", True, Level.ERROR, "null for a bit varying[] value"),
        ("bit", False, None, ""),
        ("numeric", False, None, ""),
        ("timetz", True, Level.WARNING, "in UTC"),
    ],
)
def test_types_debezium_cannot_send_as_they_are(
    mapping: Mapping, base: str, array: bool, level: Level | None, says: str
) -> None:
    users = v1_catalog().tables["users"]
    legacy = CatalogColumn(name="balance_cents", type_name=base, base_type=base, is_array=array)
    v1 = v1_catalog(users=CatalogTable("users", (*users.columns[:3], legacy, users.columns[4]), ("id",)))
    found = [f for f in check_mapping(mapping, v1, v2_catalog()) if "Debezium" in f.message]
    assert [(f.level, says in f.message) for f in found] == ([(level, True)] if level else [])


def test_integer_narrowing_warns(mapping: Mapping) -> None:
    """Copying int8 into int4 is a warning."""
    v1 = v1_catalog(
        orders=CatalogTable("orders", (col("id", "int4", nullable=False), col("user_id", "int8")), ("id",))
    )
    v2 = v2_catalog()
    orders = v2.tables["orders"]
    v2 = v2_catalog(
        orders=CatalogTable(
            "orders", (orders.columns[0], col("user_id", "int4")), ("id",), orders.foreign_keys
        )
    )
    assert only(warnings(check_mapping(mapping, v1, v2))).startswith(
        "warning: tables.orders.columns.user_id:"
    )


def test_key_must_equal_v2_primary_key(load: Callable[[str], Mapping]) -> None:
    """A key other than the V2 primary key is an error naming the primary key."""
    mapping = load(
        MAPPING.replace(
            "key: [id]\n    columns:\n      id: id\n      user_id",
            "key: [user_id]\n    columns:\n      id: id\n      user_id",
        )
    )
    found = errors(check_mapping(mapping, v1_catalog(), v2_catalog()))
    assert any(
        f.startswith("error: tables.orders.key: key [user_id] differs from the V2 primary key")
        and "[id]" in f
        for f in found
    )


def test_key_from_non_pk_v1_column(mapping: Mapping) -> None:
    """A V2 key derived from a V1 column outside the V1 primary key is an error (deletes unmappable)."""
    v1 = v1_catalog(orders=CatalogTable("orders", v1_catalog().tables["orders"].columns, ("user_id",)))
    found = errors(check_mapping(mapping, v1, v2_catalog()))
    assert any(
        f.startswith("error: tables.orders.key: V2 key column id derives from id, not in the V1 primary key")
        for f in found
    )


def test_set_null_on_not_null(load: Callable[[str], Mapping]) -> None:
    """on_orphan set_null on a NOT NULL FK column is an error at .on_orphan."""
    mapping = load(MAPPING.replace("ref_columns: [id]}", "ref_columns: [id], on_orphan: set_null}"))
    orders = v2_catalog().tables["orders"]
    v2 = v2_catalog(
        orders=CatalogTable(
            "orders",
            (orders.columns[0], col("user_id", "int8", nullable=False)),
            ("id",),
            orders.foreign_keys,
        )
    )
    finding = only(errors(check_mapping(mapping, v1_catalog(), v2)))
    assert finding.startswith("error: relationships.orders_user.on_orphan: set_null on NOT NULL")


def test_missing_fk_constraint_warns(mapping: Mapping) -> None:
    """A relationship without a matching V2 foreign key is a warning."""
    orders = v2_catalog().tables["orders"]
    v2 = v2_catalog(orders=CatalogTable("orders", orders.columns, ("id",)))
    assert only(warnings(check_mapping(mapping, v1_catalog(), v2))).startswith(
        "warning: relationships.orders_user:"
    )


CYCLE = """
version: 1
tables:
  - {name: a, source: a, target: a, key: [id], columns: {id: id, b_id: b_id}}
  - {name: b, source: b, target: b, key: [id], columns: {id: id, a_id: a_id}}
relationships:
  - {name: a_b, table: a, columns: [b_id], references: b, ref_columns: [id]}
  - {name: b_a, table: b, columns: [a_id], references: a, ref_columns: [id]}
"""


def cycle_catalog(*, nullable: bool) -> Catalog:
    def table(name: str, other: str) -> CatalogTable:
        fk = ForeignKey(f"{name}_fk", (f"{other}_id",), "public", other, ("id",))
        cols = (col("id", "int4", nullable=False), col(f"{other}_id", "int4", nullable=nullable))
        return CatalogTable(name, cols, ("id",), (fk,))

    return Catalog.of("public", [table("a", "b"), table("b", "a")])


def test_not_null_cycle_is_error(load: Callable[[str], Mapping]) -> None:
    """An FK cycle whose every edge is NOT NULL is an error: no row can be inserted first."""
    finding = only(
        errors(check_mapping(load(CYCLE), cycle_catalog(nullable=True), cycle_catalog(nullable=False)))
    )
    assert finding.startswith("error: relationships.a_b: FK cycle a → b → a")


def test_nullable_cycle_is_fine(load: Callable[[str], Mapping]) -> None:
    """An FK cycle with a nullable edge is not an error."""
    assert (
        errors(check_mapping(load(CYCLE), cycle_catalog(nullable=True), cycle_catalog(nullable=True))) == []
    )


def test_fk_graph_tree(load: Callable[[str], Mapping]) -> None:
    """format_fk_graph shows children under parents, self-references and cycles."""
    text = (
        MAPPING + "  - {name: users_ref, table: users, columns: [id], references: users, ref_columns: [id]}\n"
    )
    graph = format_fk_graph(load(text))
    assert graph.splitlines()[:3] == [
        "users",
        "├── orders (orders_user: user_id → id)",
        "└── users  [↻ self-reference] (users_ref: id → id)",
    ]
    assert "self-reference: users → users (users_ref)" in graph
    cycle_graph = format_fk_graph(load(CYCLE))
    assert "[⟲ cycle]" in cycle_graph
    assert "cycle: a → b → a (a_b, b_a)" in cycle_graph


class FakeCursor:
    def __init__(self, results: list[list[tuple[object, ...]]]) -> None:
        self.results = results
        self.params: list[object] = []

    def __enter__(self) -> FakeCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute(self, sql: str, params: object) -> None:
        self.params.append(params)

    def fetchall(self) -> list[tuple[object, ...]]:
        return self.results.pop(0)


class FakeConnection:
    def __init__(self, cursor: FakeCursor) -> None:
        self._cursor = cursor

    def cursor(self) -> FakeCursor:
        return self._cursor


def test_read_catalog_builds_tables() -> None:
    """read_catalog passes the schema as a parameter and assembles columns, primary and foreign keys."""
    cursor = FakeCursor(
        [
            [
                ("orders", "id", "integer", "int4", False, True, False, False, False, True),
                ("orders", "tags", "text[]", "text", True, False, True, False, False, True),
            ],
            [
                ("orders", "orders_pkey", "p", ["id"], None, None, []),
                ("orders", "orders_user_fkey", "f", ["user_id"], "public", "users", ["id"]),
            ],
        ]
    )
    catalog = read_catalog(FakeConnection(cursor), "v2")  # type: ignore[arg-type]
    assert cursor.params == [{"schema": "v2"}, {"schema": "v2"}]
    orders = catalog.tables["orders"]
    assert orders.primary_key == ("id",)
    assert orders.foreign_keys == (ForeignKey("orders_user_fkey", ("user_id",), "public", "users", ("id",)),)
    assert orders.partitioned
    tags = orders.column("tags")
    assert tags is not None
    assert tags.is_array
