"""Writing V2."""
