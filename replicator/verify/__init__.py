"""``replicator verify``: V1 through the mapping compared with V2, by counts, chunk checksums and row diffs.

Pure core: ``chunks`` (canonical values, row digests, order-independent checksums, chunk planning, key
encoding for the resume state), ``expected`` (V1 rows through the mapping with orphan policies),
``compare`` (row-level diff and in-flight classification), ``sql`` (statements as data). I/O: ``lookup``
(V1 parent existence), ``read`` (one chunk from each side), ``state`` (the resume file), ``run`` (one
pass), ``fence`` and ``continuous`` (the parallel run).
"""
