"""The dashboard's errors: all are :class:`~twin.trace.reader.RunError`, so a page catches one
type and shows its message ("refused: …", "malformed: …", "run not found: …")."""

from __future__ import annotations

from twin.trace.reader import RunError


class RunAccessError(RunError):
    """A run (or a file of it) that resolves outside the runs directory, or is not a regular
    file: refused, nothing of it is read."""


class MalformedError(RunError):
    """A file of a run that cannot be read as what it should be (garbage, truncated, too
    large, a missing or wrong-typed column)."""


def malformed(what: str, why: str) -> MalformedError:
    """``malformed: <what>: <why>``."""
    return MalformedError(f"malformed: {what}: {why}")


__all__ = ["MalformedError", "RunAccessError", "RunError", "malformed"]
