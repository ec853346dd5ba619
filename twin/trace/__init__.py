"""Run directories: Arrow schemas, the streaming writer, the reader, claims and repair."""

from twin.trace.errors import RunDirectoryError
from twin.trace.reader import Run, RunError, open_run
from twin.trace.schema import SCHEMA_VERSION, TABLES

__all__ = ["SCHEMA_VERSION", "TABLES", "Run", "RunDirectoryError", "RunError", "open_run"]
