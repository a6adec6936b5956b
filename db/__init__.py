"""Database access shared by every process: pool, migrations and one query module per resource."""
