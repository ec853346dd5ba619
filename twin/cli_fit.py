"""``twin fit-iteration PROFILE.csv``: the ``calibrated`` iteration-time coefficients that
fit a measured profile best, and how far they are from each kind of iteration, so a user
can judge the line before trusting it. Thin: the fit is in :mod:`twin.analysis.iteration_fit`."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from twin.cli_common import console, user_errors


@click.command("fit-iteration")
@click.argument("profile", metavar="PROFILE")
@click.option(
    "--kv-capacity-tokens",
    type=click.IntRange(min=2),
    default=None,
    help="the replica's KV-cache capacity, printed with the coefficients (a profile has none)",
)
@user_errors
def fit_iteration(profile: str, kv_capacity_tokens: int | None) -> None:
    """Fit t = c0 + c_pf·P + c_b·B + c_kv·K to PROFILE (a CSV of measured iterations, or
    builtin:NAME, e.g. builtin:a100_llama3_8b_tp1_iterations.csv.gz), by non-negative least
    squares on relative error; print the coefficients as a services[].iteration snippet and
    the fit's mean and worst error per kind of iteration."""
    from twin.analysis.iteration_fit import fit_calibrated, read_profile
    from twin.config.data_files import trace_file

    fit = fit_calibrated(read_profile(trace_file(profile)))
    table = Table(title=f"calibrated fit of {escape(profile)}")
    for column in ("kind", "iterations", "mean |error|", "worst error", "worst at"):
        table.add_column(column, justify="left" if column in ("kind", "worst at") else "right")
    for error in fit.errors:
        table.add_row(
            error.kind,
            str(error.rows),
            f"{error.mean_abs:.1%}",
            f"{error.worst:+.1%}",
            escape(error.worst_label),
        )
    console.print(table)
    capacity = kv_capacity_tokens if kv_capacity_tokens is not None else "<your replica's>"
    lines = ["iteration:", "  model: calibrated"]
    lines += [f"  {name}: {value:.6g}" for name, value in fit.coefficients.items()]
    lines.append(f"  kv_capacity_tokens: {capacity}")
    console.print("\n".join(lines), highlight=False, markup=False)
