"""A few lines on what a normalised workload holds (``twin import`` prints them): how many
records, their span and the load they offer."""

from __future__ import annotations

import numpy as np

from twin.importers.common import Imported

HOUR_S = 3600.0


def format_span(seconds: float) -> str:
    """A span in the unit that reads best (days with one decimal past a day)."""
    for unit, size in (("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0)):
        if seconds >= size:
            return f"{seconds / size:,.1f} {unit}"
    return f"{seconds:,.0f} s"


def describe(imported: Imported) -> list[tuple[str, str]]:
    """(what, value) rows for ``imported``."""
    table = imported.table
    rows = [("records read", f"{imported.records:,}")]
    rows += [(f"skipped: {reason}", f"{count:,}") for reason, count in imported.skipped.items()]
    if imported.kind == "jobs":
        times = table.column("submit_s").to_numpy()
        sizes = table.column("accelerators").to_numpy().astype(float)
        runs = table.column("duration_s").to_numpy()
        span = float(times.max() - times.min()) if len(times) else 0.0
        gpu_h = float(np.dot(sizes, runs)) / HOUR_S
        rows += [
            ("jobs", f"{table.num_rows:,}"),
            ("submissions span", format_span(span)),
            (
                "accelerators per job",
                f"{int(sizes.min())}–{int(sizes.max())}" if len(sizes) else "-",
            ),
            ("accelerator-hours asked", f"{gpu_h:,.0f}"),
            (
                "offered load",
                f"{gpu_h * HOUR_S / span:,.1f} accelerators busy on average" if span else "-",
            ),
        ]
    elif imported.kind == "requests":
        times = table.column("arrival_s").to_numpy()
        span = float(times.max() - times.min()) if len(times) else 0.0
        bucket, label = (HOUR_S, "hour") if span >= 6 * HOUR_S else (60.0, "minute")
        since = times - times.min() if len(times) else times
        counts = np.bincount((since // bucket).astype(np.int64)) if len(times) else [0]
        rows += [
            ("requests", f"{table.num_rows:,}"),
            ("arrivals span", format_span(span)),
            ("mean rate", f"{len(times) / span:,.3f} requests/s" if span else "-"),
            (f"busiest {label}", f"{max(counts) / bucket:,.3f} requests/s"),
            ("mean prompt tokens", f"{np.mean(table.column('prompt_tokens').to_numpy()):,.1f}"),
            ("mean output tokens", f"{np.mean(table.column('output_tokens').to_numpy()):,.1f}"),
        ]
    else:
        times = table.column("start_s").to_numpy()
        span = float(times.max() - times.min()) if len(times) else 0.0
        total = float(np.sum(table.column("bytes").to_numpy()))
        rows += [
            ("transfers", f"{table.num_rows:,}"),
            ("starts span", format_span(span)),
            ("bytes", f"{total / 1e12:,.3f} TB"),
        ]
    return rows
