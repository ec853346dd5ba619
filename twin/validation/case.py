"""One validation case: a figure of twin's held against an independent reference."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

Status = Literal["pass", "fail", "not run"]


@dataclass(frozen=True)
class Case:
    """twin's figure against the reference's, and whether it is within tolerance.

    ``tolerance`` is relative (0.01 = 1 %) unless ``absolute``; 0 asks for equality to
    floating-point rounding (1e-9 relative). A case whose reference could not be computed
    (a peer simulator that is not installed) is ``not run`` with the reason, never passed.
    """

    group: str
    """Section of the report (queueing, network, scheduling, ...)."""
    name: str
    reference: str
    """What the reference is (a formula, a peer simulator and its version)."""
    source: str
    """Where it comes from (a paper, a package and the command that ran it)."""
    twin: float | None
    expected: float | None
    tolerance: float
    absolute: bool = False
    reason: str = ""
    """Why it was not run (empty when it ran)."""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def error(self) -> float | None:
        """Relative error (absolute where ``absolute``), None when not run."""
        if self.twin is None or self.expected is None:
            return None
        difference = self.twin - self.expected
        if self.absolute:
            return abs(difference)
        scale = abs(self.expected)
        return abs(difference) / scale if scale > 0 else abs(difference)

    @property
    def status(self) -> Status:
        error = self.error
        if error is None or self.reason:
            return "not run"
        if not math.isfinite(error):
            return "fail"
        return "pass" if error <= max(self.tolerance, 1e-9) else "fail"


def not_run(group: str, name: str, reference: str, source: str, reason: str) -> Case:
    """A case whose reference could not be computed here."""
    return Case(group, name, reference, source, None, None, 0.0, reason=reason)
