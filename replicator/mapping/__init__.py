"""The V1→V2 mapping: its format (model), named transforms, the pure engine and the catalog check."""
