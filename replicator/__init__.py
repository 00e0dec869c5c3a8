"""replicator: zero-downtime V1→V2 PostgreSQL migration over Debezium, Kafka and Faust."""

__version__ = "0.1.0"

from replicator import pgtypes as _pgtypes

_pgtypes.register()  # psycopg reads and writes PostgreSQL's infinite timestamps and dates
