"""``replicator report``: the seed's "Current State vs Target State" table, computed live."""
