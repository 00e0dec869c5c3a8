"""The pure core: from a Debezium record to decisions about V2. No Kafka, no database here.

The value classes built once or more per row (``SourceRow``, ``Sourced``, ``SourceRecord``,
``Upsert``, ``Delete``, ``Positioned``, ``ParentRef``, ``Apply``, ``Step``) are slotted dataclasses
that are *not* frozen. A frozen dataclass sets each field through ``object.__setattr__``; at about a
dozen such objects per row that was a quarter of the pipeline's pure CPU per row (measured on the
initial load's batches: 29.7 → 22.7 µs per row). They are never changed after construction:
``dataclasses.replace`` makes a modified copy, as with the frozen classes around them.
"""
