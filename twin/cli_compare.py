"""``twin compare``: metrics of runs, folders of runs and sweep configurations side by side,
with error bars over seeds (registered on the ``twin`` group by :mod:`twin.cli`)."""

from __future__ import annotations

import json

import click

from twin.cli_common import console, user_errors


@click.command()
@click.argument("groups", nargs=-1, required=True, metavar="RUN_OR_GROUP...")
@click.option("--metric", "metrics", multiple=True, metavar="NAME", help="a metric to compare")
@click.option("--json", "as_json", is_flag=True, help="print the comparison as JSON")
@click.option("--force", is_flag=True, help="compare runs that differ or did not complete")
@click.option(
    "--confidence",
    default=0.95,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="level of the confidence intervals",
)
@user_errors
def compare(
    groups: tuple[str, ...],
    metrics: tuple[str, ...],
    as_json: bool,
    force: bool,
    confidence: float,
) -> None:
    """Compare RUN_OR_GROUP... with the first one (the baseline), mean ± CI over seeds.

    Each argument is a run directory; a folder of run directories (one configuration, several
    seeds); a sweep directory (each of its configurations); or SWEEP@CONFIG, one
    configuration of a sweep by its label (e.g. 'policies.scheduler=fcfs', 'base') or id.
    Differences are paired by seed (common random numbers) and marked better/worse only
    where their interval excludes 0, else noise. Runs that differ in horizon, start or twin
    version, or did not complete, are refused unless --force.
    """
    _compare(groups, metrics, as_json, force, confidence)


def _compare(
    groups: tuple[str, ...], metrics: tuple[str, ...], as_json: bool, force: bool, confidence: float
) -> None:
    """Resolve, check, compare, print; a comparison that cannot be made is a user error."""
    from twin.analysis.compare import compare as compare_groups
    from twin.analysis.groups import CompareError
    from twin.compare_tables import print_comparison
    from twin.config import TwinUserError
    from twin.sweep.groups import check_names, resolve_groups

    try:
        resolved = resolve_groups(groups)
        if metrics:
            check_names(metrics, resolved)
        result = compare_groups(resolved, metrics or None, confidence, force)
    except CompareError as error:
        raise TwinUserError(str(error)) from None
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, allow_nan=False))
    else:
        print_comparison(console, result)
