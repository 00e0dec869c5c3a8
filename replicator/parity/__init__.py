"""Parity: do V1 and V2 give the same answers? Dashboard calculations (SQL pairs) and HTTP endpoints."""
