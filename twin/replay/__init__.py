"""A scenario's workload traces: each read once per file version through the trace readers
(:mod:`twin.importers`, which know nothing of scenarios), mapped onto the scenario's clock,
and checked against it (tenant classes, sites, regions, what a service needs), so that
``twin validate`` refuses a trace that cannot drive its scenario before any run starts.

Layers: above :mod:`twin.config` and :mod:`twin.importers`, below :mod:`twin.model`, which
replays the tables (the model never reads a foreign format)."""
