"""Cross-checks of how an llm service draws its prompt and output lengths together
(``lengths_pairing``, ``lengths_rank_correlation``): each way needs what it draws from."""

from __future__ import annotations

from typing import Any

from twin.config.errors import ConfigIssue, shorten
from twin.config.validate_requests import traced

LENGTH_KEYS = ("lengths_pairing", "lengths_rank_correlation")


def check_lengths(path: str, service: dict[str, Any]) -> list[ConfigIssue]:
    """The pairing keys belong to kind llm; ``rows`` needs both lengths empirical from one
    file; a rank correlation (a copula over the marginals) goes with ``auto`` pairing only."""
    if traced(service):  # the trace's own pairs: check_request_source refuses the keys
        return []
    given = [key for key in LENGTH_KEYS if service.get(key) is not None]
    if given and service.get("kind") != "llm":
        return [
            ConfigIssue(f"{path}.{key}", "only kind llm has prompt and output lengths")
            for key in given
        ]
    pairing = service.get("lengths_pairing", "auto")
    issues = []
    if pairing == "rows" and not _same_file(service):
        issues.append(
            ConfigIssue(
                f"{path}.lengths_pairing",
                "rows draws one line of a sample file for both lengths: expected prompt_tokens "
                "and output_tokens both {dist: empirical} with the same file (each with its "
                "column)",
            )
        )
    if service.get("lengths_rank_correlation") is not None and pairing in ("rows", "independent"):
        issues.append(
            ConfigIssue(
                f"{path}.lengths_rank_correlation",
                f"a rank correlation is kept by a copula, not with lengths_pairing "
                f"{shorten(pairing)} (rows keep the file's own pairs, independent none): remove "
                "one of the two",
            )
        )
    return issues


def _same_file(service: dict[str, Any]) -> bool:
    prompt, output = service.get("prompt_tokens"), service.get("output_tokens")
    return (
        isinstance(prompt, dict)
        and isinstance(output, dict)
        and prompt.get("dist") == output.get("dist") == "empirical"
        and prompt.get("file") == output.get("file")
    )
