"""replicator: zero-downtime V1→V2 PostgreSQL migration over Debezium, Kafka and Faust."""

__version__ = "0.1.0"
