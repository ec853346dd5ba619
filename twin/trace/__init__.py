"""Run directories: Arrow schemas, the streaming writer and the reader."""

from twin.trace.reader import Run, RunError, open_run
from twin.trace.schema import SCHEMA_VERSION, TABLES

__all__ = ["SCHEMA_VERSION", "TABLES", "Run", "RunError", "open_run"]
