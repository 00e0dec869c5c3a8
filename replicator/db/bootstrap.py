"""Create the databases, roles, control tables and publication the pipeline needs. Idempotent.

Runs with superuser endpoints (``v1_admin``, ``v2_admin``): the local stack calls it after start-up;
elsewhere an operator runs ``replicator db bootstrap`` once.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

from replicator.connect.config import load_connector
from replicator.errors import TerminalError
from replicator.settings import PostgresEndpoint, Settings

PUBLISHED_SCHEMAS = ("public", "replicator")

KEYLESS_SQL = """
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p')
  AND (c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS
       (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)))
ORDER BY 1
"""


class PublicationError(TerminalError):
    """The publication would break V1's own writes; the message names the tables and the fix."""


def _sql_file(name: str) -> str:
    return resources.files("replicator.db").joinpath("sql", name).read_text()


def _grants(name: str, role: str) -> sql.Composed:
    statements = [s.strip() for s in _sql_file(name).split(";") if s.strip()]
    body = [
        "\n".join(line for line in s.splitlines() if not line.lstrip().startswith("--")) for s in statements
    ]
    return sql.SQL(";\n").join(sql.SQL(s).format(role=sql.Identifier(role)) for s in body if s.strip())


def ensure_database(admin: PostgresEndpoint) -> None:
    with psycopg.connect(admin.conninfo(dbname="postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [admin.dbname]).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(admin.dbname)))


def ensure_login_role(
    conn: psycopg.Connection[object], endpoint: PostgresEndpoint, *, replication: bool
) -> None:
    """A non-superuser login role with the endpoint's password (rotated if it changed)."""
    role = sql.Identifier(endpoint.user)
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [endpoint.user]).fetchone() is None:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
    conn.execute(
        sql.SQL("ALTER ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE {} PASSWORD {}").format(
            role,
            sql.SQL("REPLICATION" if replication else "NOREPLICATION"),
            sql.Literal(endpoint.password.get_secret_value()),
        )
    )


def bootstrap_v1(admin: PostgresEndpoint, replication: PostgresEndpoint) -> None:
    """Control tables, the Debezium role (REPLICATION LOGIN + SELECT) and a pre-created publication."""
    ensure_database(admin)
    with psycopg.connect(admin.conninfo(), autocommit=True) as conn:
        conn.execute(_sql_file("v1_bootstrap.sql"))
        ensure_login_role(conn, replication, replication=True)
        conn.execute(_grants("v1_grants.sql", replication.user))
        ensure_publication(conn, load_connector().publication)


def keyless_tables(conn: psycopg.Connection[Any]) -> list[str]:
    """The tables of the published schemas without a replica identity (``schema.table``): PostgreSQL
    refuses UPDATE and DELETE on them while the publication publishes them."""
    return [str(row[0]) for row in conn.execute(KEYLESS_SQL, [list(PUBLISHED_SCHEMAS)]).fetchall()]


def ensure_publication(conn: psycopg.Connection[object], publication: str) -> None:
    """The publication of the published schemas, changes to a partitioned table published as changes to
    the table itself (``publish_via_partition_root``): by default PostgreSQL publishes them under the
    partition that holds the row, so Debezium would send them to one topic per partition, which no
    worker reads (the mapping names the partitioned table). An existing publication is switched over.

    Refused while a table of those schemas has no replica identity: PostgreSQL rejects UPDATE and DELETE
    on a table that a publication publishes without one, so creating the publication would break V1's
    application (and an existing one already does)."""
    keyless = keyless_tables(conn)
    if keyless:
        raise PublicationError(
            f"V1 tables without a replica identity (no primary key): {', '.join(keyless)}. While publication"
            f" {publication} publishes their schema, PostgreSQL refuses every UPDATE and DELETE on them"
            " ('cannot update table … because it does not have a replica identity'): the application"
            " would fail. Give each a primary key, or ALTER TABLE … REPLICA IDENTITY FULL (the old row is"
            " then logged whole), or USING INDEX of a unique index; then rerun `replicator db bootstrap`"
        )
    name = sql.Identifier(publication)
    found = conn.execute("SELECT pubviaroot FROM pg_publication WHERE pubname = %s", [publication]).fetchone()
    if found is None:
        conn.execute(
            sql.SQL("CREATE PUBLICATION {} FOR TABLES IN SCHEMA {} WITH (publish_via_partition_root)").format(
                name, sql.SQL(", ").join(sql.Identifier(s) for s in PUBLISHED_SCHEMAS)
            )
        )
    elif found != (True,):
        conn.execute(sql.SQL("ALTER PUBLICATION {} SET (publish_via_partition_root)").format(name))


def bootstrap_v2(admin: PostgresEndpoint, writer: PostgresEndpoint) -> None:
    """The writer role: DML on the application schema and its state schema only."""
    ensure_database(admin)
    with psycopg.connect(admin.conninfo(), autocommit=True) as conn:
        conn.execute(_sql_file("v2_state.sql"))
        ensure_login_role(conn, writer, replication=False)
        conn.execute(_grants("v2_grants.sql", writer.user))


def bootstrap(settings: Settings) -> None:
    bootstrap_v1(settings.v1_admin, settings.v1_replication)
    bootstrap_v2(settings.v2_admin, settings.v2_writer)
