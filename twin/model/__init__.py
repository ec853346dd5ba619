"""The SimPy model: factories, schedulers, broker, workloads, telemetry, assembled in a World."""
