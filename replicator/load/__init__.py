"""The initial load: V1 at a consistent point, read parents first, into V2 (see ``run``)."""
