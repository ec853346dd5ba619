"""Independent simulators twin is validated against (test-time dependencies, imported lazily)."""
