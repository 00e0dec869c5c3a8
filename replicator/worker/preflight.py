"""``replicator worker run --dry-run``: everything a worker checks before it consumes, and what it would
then do, without joining the group, creating a topic or writing anything. A deployment can run it as a
pre-start check: a bad setting or mapping exits 2 naming the field, an unreachable database or broker 3."""

from __future__ import annotations

from kafka import KafkaAdminClient

from replicator.mapping.live import checked_catalogs
from replicator.mapping.model import load_mapping
from replicator.settings import Settings
from replicator.worker.app import source_topics

__all__ = ["preflight"]


def preflight(settings: Settings) -> list[str]:
    mapping = load_mapping(settings.mapping_path)
    checked = checked_catalogs(settings, mapping, source=str(settings.mapping_path))
    topics = source_topics(mapping)
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        existing = set(admin.list_topics())
    finally:
        admin.close()
    absent = [t for t in [*topics, settings.dead_letter_topic] if t not in existing]
    return [
        f"mapping {settings.mapping_path}: {len(mapping.tables)} table mappings and "
        f"{len(mapping.relationships)} relationships fit V1 and V2 ({len(checked.warnings)} warnings)",
        *(f"  {finding}" for finding in checked.warnings),
        f"would read V1 as {settings.v1_replication.describe()} (parents of orphans, refills)",
        f"would write V2 as {settings.v2_writer.describe()}",
        f"would consume {len(topics)} topics from {settings.kafka_bootstrap} as consumer group "
        f"{settings.consumer_group}: {', '.join(topics)}",
        f"would dead-letter to {settings.dead_letter_topic}",
        f"would create the topics not there yet: {', '.join(absent)}" if absent else "every topic exists",
        f"would serve /metrics, /healthz and /ready on "
        f"http://{settings.worker_web_host}:{settings.worker_web_port}",
    ]
