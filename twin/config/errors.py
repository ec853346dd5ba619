"""User-facing errors: each names the config path at fault and what was expected."""

from __future__ import annotations

from dataclasses import dataclass

from twin.errors import TwinUserError, shorten

__all__ = ["MAX_ISSUES_SHOWN", "ConfigError", "ConfigIssue", "TwinUserError", "shorten"]

MAX_ISSUES_SHOWN = 50
"""A report lists at most this many issues, then says how many more there are."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config: where it is and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(TwinUserError):
    """A config that failed validation; carries every issue found, not only the first.

    Its message lists the first :data:`MAX_ISSUES_SHOWN` issues, each on one line, so that a
    what-if with thousands of mistakes still gives a readable report.
    """

    def __init__(self, issues: list[ConfigIssue], source: str = "") -> None:
        self.issues = list(issues)
        self.source = source
        where = f" in {source}" if source else ""
        count = len(self.issues)
        head = f"{count} problem{'s' if count != 1 else ''}{where}:"
        lines = [f"  {issue}" for issue in self.issues[:MAX_ISSUES_SHOWN]]
        if count > MAX_ISSUES_SHOWN:
            lines.append(f"  … and {count - MAX_ISSUES_SHOWN} more")
        super().__init__("\n".join([head, *lines]))

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle by issues (errors cross process boundaries in sweeps and test pools)."""
        return (type(self), (self.issues, self.source))
