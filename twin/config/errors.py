"""User-facing errors: each names the config path at fault and what was expected."""

from __future__ import annotations

from dataclasses import dataclass


class TwinUserError(Exception):
    """A user mistake (bad config, missing file, bad override): reported without traceback."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config: where it is and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(TwinUserError):
    """A config that failed validation; carries every issue found, not only the first."""

    def __init__(self, issues: list[ConfigIssue], source: str = "") -> None:
        self.issues = list(issues)
        self.source = source
        where = f" in {source}" if source else ""
        count = len(self.issues)
        head = f"{count} problem{'s' if count != 1 else ''}{where}:"
        super().__init__("\n".join([head, *(f"  {issue}" for issue in self.issues)]))
