"""The Explore page's tables: jobs (filtered, sorted and paged on the server) and the
histograms of waits and transfer times. Each derived table is built once per run and
filter (single-flight, :class:`~twin.dashboards.memo.Memo`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from twin.dashboards.columns import JOB, JOB_FIELDS, TRANSFER, check_columns
from twin.dashboards.limits import SERIES_CACHE_SIZE
from twin.dashboards.memo import Memo
from twin.dashboards.queries import condition, filter_terms
from twin.dashboards.values import Histogram, JobFilter
from twin.dashboards.views import codes, converted, floats


class JobsView:
    """A run's jobs table as shown (:data:`JOB_FIELDS`, times in hours)."""

    def __init__(self, jobs: pa.Table) -> None:
        check_columns(JOB.table, jobs.schema)
        columns, names = [], []
        for spec in JOB_FIELDS:
            if spec.source not in jobs.column_names:
                continue
            column = jobs.column(spec.source)
            if spec.scale != 1.0:
                column = pc.multiply(pc.cast(column, pa.float64()), spec.scale)
            columns.append(column)
            names.append(spec.id)
        self.table = pa.table(columns, names=names)
        self._memo: Memo[Any] = Memo(size=SERIES_CACHE_SIZE)

    @property
    def column_names(self) -> list[str]:
        return self.table.column_names

    def _once(self, key: Any, build: Any) -> Any:
        return self._memo.get(key, lambda: converted(JOB.table, build))

    def choices(self) -> dict[str, list[str]]:
        """Distinct sites, tenants and states (for the filter dropdowns)."""

        def build() -> dict[str, list[str]]:
            jobs = self.table
            return {
                name: sorted(
                    str(v) for v in pc.unique(jobs.column(name)).to_pylist() if v is not None
                )
                for name in ("site", "tenant", "state")
                if name in jobs.column_names
            }

        return self._once("choices", build)

    def filtered(self, chosen: JobFilter, query: str = "") -> pa.Table:
        """The jobs passing the dropdowns' choices and the filter query."""
        return self._once(("filtered", chosen, query), lambda: self._filter(chosen, query))

    def _filter(self, chosen: JobFilter, query: str) -> pa.Table:
        jobs = self.table
        masks = [
            pc.is_in(
                pc.cast(jobs.column(name), pa.string()), value_set=pa.array(values, pa.string())
            )
            for name, values in (
                ("site", chosen.sites),
                ("tenant", chosen.tenants),
                ("state", chosen.states),
            )
            if values and name in jobs.column_names
        ]
        masks += [condition(jobs, *term) for term in filter_terms(query)[0]]
        masks = [mask for mask in masks if mask is not None]
        if not masks:
            return jobs
        mask = masks[0]
        for other in masks[1:]:
            mask = pc.and_kleene(mask, other)
        return jobs.filter(pc.fill_null(mask, False))

    def ignored_terms(self, query: str) -> list[str]:
        """The parts of a filter query that are not terms on a column of the table."""
        terms, ignored = filter_terms(query)
        columns = set(self.column_names)
        return ignored + [f"{{{c}}} {op} {v}" for c, op, v in terms if c not in columns]

    def page(
        self,
        chosen: JobFilter,
        query: str,
        sort_by: Sequence[dict[str, str]],
        page: int,
        page_size: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the filtered, sorted jobs as records, and how many rows match."""
        keys = tuple(
            (s["column_id"], "descending" if s.get("direction") == "desc" else "ascending")
            for s in sort_by
            if s.get("column_id") in self.column_names
        )

        def build() -> pa.Table:
            table = self.filtered(chosen, query)
            return table.sort_by(list(keys)) if keys else table

        table = self._once(("sorted", chosen, query, keys), build)
        page_size = max(1, int(page_size))
        page = max(0, int(page))
        if page * page_size >= table.num_rows:
            return [], table.num_rows
        rows = converted(JOB.table, lambda: table.slice(page * page_size, page_size).to_pylist())
        return rows, table.num_rows

    def wait_histogram(self, chosen: JobFilter, bins: int = 40) -> Histogram:
        """Waits (h) of the jobs that started, among the filtered ones."""

        def build() -> Histogram:
            jobs = self.filtered(chosen)
            waits = np.array([], dtype=float)
            if {"start_h", "wait_h"} <= set(jobs.column_names):
                started = ~np.isnan(floats(jobs, "start_h", JOB.table))
                waits = floats(jobs, "wait_h", JOB.table)[started]
                waits = waits[np.isfinite(waits)]
            top = float(waits.max()) if len(waits) and waits.max() > 0 else 1.0
            counts, edges = np.histogram(waits, bins=bins, range=(0.0, top))
            return Histogram(edges, {"started jobs": counts}, "wait (h)")

        return self._once(("waits", chosen, bins), build)


def transfer_histogram(table: pa.Table, bins: int = 40) -> Histogram:
    """Transfer durations (s, log bins) by kind."""
    check_columns(TRANSFER.table, table.schema)
    durations = floats(table, TRANSFER.end, TRANSFER.table) - floats(
        table, TRANSFER.start, TRANSFER.table
    )
    if TRANSFER.kind in table.column_names:
        kinds, kind_codes = codes(table, TRANSFER.kind, TRANSFER.table)
    else:
        kinds, kind_codes = ["transfers"], np.zeros(table.num_rows, dtype=int)
    done = np.isfinite(durations) & (durations > 0)
    if not done.any():
        return Histogram(np.array([0.0, 1.0]), {}, "transfer time (s)", log_x=True)
    low, high = float(durations[done].min()), float(durations[done].max())
    if high <= low:
        low, high = low / 1.5, high * 1.5
    edges = np.geomspace(low, high, bins + 1)
    edges[0], edges[-1] = low, high  # exact ends: the extremes stay inside
    counts = {
        kind: np.histogram(durations[done & (kind_codes == code)], bins=edges)[0]
        for code, kind in sorted(enumerate(kinds), key=lambda pair: pair[1])
        if (done & (kind_codes == code)).any()
    }
    return Histogram(edges, counts, "transfer time (s)", log_x=True)


__all__ = ["JobsView", "transfer_histogram"]
