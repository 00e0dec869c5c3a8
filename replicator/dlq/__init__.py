"""The dead-letter topic for operators: read it (``entries``, pure) and replay from it (``topic``)."""
