"""Kafka Connect: the Debezium connector's configuration and the Connect REST API."""
