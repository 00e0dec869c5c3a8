"""Faust workers: wiring only; decisions live in replicator.pipeline."""
