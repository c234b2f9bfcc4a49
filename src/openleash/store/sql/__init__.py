"""SQL adapters of the store ports: the SQL text, the row mapping, and one module per database."""
