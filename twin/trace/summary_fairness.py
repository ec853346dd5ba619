"""The fairness part of a run's summary: Jain's index over tenants and what each access
programme was entitled to against what its tenants were granted (from the per-tenant rows
of :mod:`twin.trace.summary_jobs` and the manifest's ``tenants`` and ``access`` books)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def jain_index(values: Sequence[float]) -> float:
    """Jain's fairness index (Σx)² / (n Σx²): 1 when all are equal, 1/n when one has all;
    NaN for no values or all zero."""
    total, squares = math.fsum(values), math.fsum(v * v for v in values)
    return total * total / (len(values) * squares) if squares > 0 else float("nan")


def demand_fairness(tenants: list[dict[str, Any]]) -> float:
    """Jain's index over the tenants that asked for any work, of the accelerator-hours each
    was granted per accelerator-hour it asked for (its jobs' accelerators × run time on a
    speed-1.0 accelerator): 1 when every tenant got the same part of what it asked for,
    whatever the sizes of their demands; lower when some waited, were cancelled or rejected
    more than others."""
    served = [
        row["accelerator_hours"] / row["asked_accelerator_hours"]
        for row in tenants
        if row.get("asked_accelerator_hours", 0.0) > 0
    ]
    return jain_index(served)


def tenant_fairness(tenants: list[dict[str, Any]], manifest: dict[str, Any]) -> float:
    """Jain's index over the tenants that submitted, of the accelerator-hours each was
    granted per unit of its fair-share weight (the manifest's; 1 for a run that does not
    say): 1 when service is in proportion to the weights, as ``fair_share`` aims for when
    every tenant's demand exceeds its share."""
    weights = manifest.get("tenants") if isinstance(manifest.get("tenants"), dict) else {}

    def weight(tenant: str) -> float:
        entry = weights.get(tenant)
        value = entry.get("weight") if isinstance(entry, dict) else None
        return float(value) if isinstance(value, (int, float)) and value > 0 else 1.0

    shares = [row["accelerator_hours"] / weight(row["tenant"]) for row in tenants]
    return jain_index(shares)


def programme_rows(tenants: list[dict[str, Any]], manifest: dict[str, Any]) -> list[dict]:
    """Per access programme: its tenants, reserved accelerators, the accelerator-hours its
    reserves entitled it to, those its tenants were granted (their runs outside it, overflow,
    included), its quota and the most charged to it in one period, and its tenants' spend."""
    books = manifest.get("access") if isinstance(manifest.get("access"), dict) else {}
    rows = []
    for name, book in sorted(books.items()):
        if not isinstance(book, dict):
            continue
        members = [row for row in tenants if row["tenant"] in book.get("tenants", [])]
        charged = book.get("charged_accelerator_hours") or []
        rows.append(
            {
                "programme": name,
                "tenants": list(book.get("tenants", [])),
                "reserved_accelerators": book.get("reserved_accelerators", 0),
                "entitled_accelerator_hours": book.get("entitled_accelerator_hours", 0.0),
                "granted_accelerator_hours": math.fsum(r["accelerator_hours"] for r in members),
                "quota_accelerator_hours": book.get("quota_accelerator_hours", float("nan")),
                "most_charged_in_a_period": max(charged, default=float("nan")),
                "spend_eur": math.fsum(r["spend_eur"] for r in members),
            }
        )
    return rows
