"""Orphaned references in V1: a child row whose parent does not exist."""
