"""How an llm service draws its prompt and output lengths together (``lengths_pairing``,
``lengths_rank_correlation``), and the checks that each way has what it draws from."""

from __future__ import annotations

from typing import Any, Literal

from twin.config.errors import ConfigIssue, TwinUserError, shorten
from twin.config.samples import read_sample_rows
from twin.config.schema import Scenario, Service
from twin.config.schema_base import Empirical
from twin.config.validate_requests import traced

Pairing = Literal["independent", "rows", "copula"]


def pairing(service: Service) -> Pairing:
    """How a service's two lengths are drawn together (``auto`` resolved)."""
    if service.lengths_rank_correlation is not None:
        return "copula"
    if service.lengths_pairing == "rows" or (
        service.lengths_pairing == "auto"
        and same_file(service.prompt_tokens, service.output_tokens)
    ):
        return "rows"
    return "independent"


def same_file(prompt: object, output: object) -> bool:
    """Whether both lengths are empirical samples of one file (so its lines pair them)."""
    return (
        isinstance(prompt, Empirical)
        and isinstance(output, Empirical)
        and (prompt.file == output.file)
    )


def paired_file_issues(scenario: Scenario) -> list[ConfigIssue]:
    """Every service drawing its lengths as rows finds a line with both numbers in its file
    (each column alone is checked with the other empirical samples)."""
    from twin.config.loader import sample_file  # the loader calls this module's checks

    issues = []
    inference = scenario.workloads.inference
    for i, service in enumerate(inference.services if inference is not None else ()):
        prompt, output = service.prompt_tokens, service.output_tokens
        if service.kind != "llm" or service.trace is not None or pairing(service) != "rows":
            continue
        assert isinstance(prompt, Empirical) and isinstance(output, Empirical)
        try:
            read_sample_rows(sample_file(prompt), prompt.column, output.column)
        except TwinUserError as error:
            path = f"workloads.inference.services[{i}].lengths_pairing"
            issues.append(ConfigIssue(path, str(error)))
    return issues


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
