"""Built-in scenarios (YAML package data)."""
