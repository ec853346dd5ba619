"""``twin fit-iteration PROFILE.csv``: the ``calibrated`` iteration-time coefficients that
fit a measured profile best, and how far they are from each kind of iteration, so a user
can judge the model before trusting it. Thin: the reader is
:mod:`twin.importers.iteration_profile`, the fit :mod:`twin.analysis.iteration_fit`."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from twin.cli_common import console, user_errors


@click.command("fit-iteration")
@click.argument("profile", metavar="PROFILE")
@click.option(
    "--terms",
    type=click.Choice(["7", "4"]),
    default="7",
    show_default=True,
    help="7: the extended model (prefill intercept, quadratic prefill, tensor-parallel "
    "communication); 4: the line t = c0 + c_pf·P + c_b·B + c_kv·K, to compare",
)
@click.option(
    "--kv-capacity-tokens",
    type=click.IntRange(min=2),
    default=None,
    help="the replica's KV-cache capacity, printed with the coefficients (a profile has none)",
)
@user_errors
def fit_iteration(profile: str, terms: str, kv_capacity_tokens: int | None) -> None:
    """Fit the calibrated iteration time t = c0 + c_p0·[P>0] + c_pf·P + c_pf2·Q + c_b·B +
    c_kv·K + c_tp·(P + B) (or, with --terms 4, c0 + c_pf·P + c_b·B + c_kv·K) to PROFILE (a
    CSV of measured iterations, Vidur-style or plain, or builtin:NAME, e.g.
    builtin:a100_llama3_8b_tp1_iterations.csv.gz), by non-negative least squares on
    relative error; c_tp is fitted to the profile's tensor-parallel communication column
    (0 without one). Print the coefficients as a services[].iteration snippet and the fit's
    mean and worst error per kind of iteration."""
    from twin.analysis.iteration_fit import fit_calibrated
    from twin.config.data_files import trace_file
    from twin.importers.iteration_profile import read_iteration_profile

    fit = fit_calibrated(read_iteration_profile(trace_file(profile)), extended=terms == "7")
    table = Table(title=f"calibrated fit ({terms} terms) of {escape(profile)}")
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
    lines += [f"  {name}: {_yaml_float(value)}" for name, value in fit.coefficients.items()]
    lines.append(f"  kv_capacity_tokens: {capacity}")
    console.print("\n".join(lines), highlight=False, markup=False)


def _yaml_float(value: float) -> str:
    """``value`` to 6 digits as YAML reads a float: ``1e-06`` is a string to YAML 1.1
    (PyYAML), so an exponent goes after a decimal point (``1.0e-06``)."""
    text = f"{value:.6g}"
    if "e" in text and "." not in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return text
