"""A site's grid as step series of simulated time: carbon intensity, price and power cap.

Each field of :class:`~twin.config.schema.Site` (a constant, 24 hourly values, a schedule of
cap steps, or a series file) becomes one :class:`~twin.model.series.StepSeries`. A file is
read once per run (:func:`~twin.importers.grid_series.read_grid_series_once`, the read the
loader's check already made); its timestamps are placed on the scenario's clock, or, for a
series that repeats, its span is laid end to end from where the start falls in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from twin.config.data_files import trace_file
from twin.config.grid_checks import covered_until
from twin.config.schema import Site
from twin.config.schema_grid import GridSeries
from twin.model.calendar import Calendar
from twin.model.series import StepSeries


@dataclass(frozen=True)
class SiteGrid:
    """The grid values a factory charges and caps by."""

    carbon: StepSeries
    """gCO2/kWh."""
    price: StepSeries
    """EUR/MWh."""
    cap_mw: StepSeries
    """The facility power cap, MW."""
    cap_changes: list[tuple[float, float]]
    """(time, MW) of each change of the cap inside the run, in order."""

    @property
    def peak_cap_mw(self) -> float:
        """The highest cap in effect at some time of the run (what a job may ever use)."""
        return max([self.cap_mw.value(0.0), *(mw for _, mw in self.cap_changes)])


def site_grid(site: Site, calendar: Calendar, horizon_s: float) -> SiteGrid:
    """The site's grid series over a run of ``horizon_s``."""
    carbon = _series(site.carbon_gco2_per_kwh, "carbon_gco2_per_kwh", calendar)
    price = _series(site.price_eur_per_mwh, "price_eur_per_mwh", calendar)
    power = site.power_mw
    if isinstance(power, list):
        cap = StepSeries([step.at for step in power], [step.power_mw for step in power])
    else:
        cap = _series(power, "power_mw", calendar)
    changes = [] if cap.constant is not None else cap.steps_within(0.0, horizon_s)
    return SiteGrid(carbon, price, cap, changes)


def _series(spec: float | list[float] | GridSeries, field: str, calendar: Calendar) -> StepSeries:
    if not isinstance(spec, GridSeries):
        return calendar.profile(spec)
    from twin.importers.grid_series import read_grid_series_once

    table = read_grid_series_once(trace_file(spec.series), spec.column, spec.time_column, field)
    values = table.values * spec.scale if spec.scale != 1.0 else table.values
    start = calendar.start.timestamp()
    if not spec.repeat:
        return StepSeries(table.epoch_s - start, values)
    first = float(table.epoch_s[0])
    period = covered_until(table.epoch_s) - first
    return StepSeries(
        table.epoch_s - first, values, period_s=period, shift_s=(start - first) % period
    )
