"""The demo scenario: a real-estate brokerage's V1 database and the partially migrated V2 it left.

``spec`` holds the figures, ``generate`` makes the V1 rows (pure, deterministic), ``v2`` runs them through
the mapping engine to get the partially migrated V2, and ``load`` writes both with COPY.
"""
