"""The deferrable-work part of a run's summary: how many training jobs could wait, how long
the start policy held them, the deadlines missed, and the grid their energy came from.

CO2 and cost are also given per MWh of the deferrable jobs' energy: a run's totals count only
the energy spent before its end, and deferral moves work towards the end, so the intensity
(gCO2/kWh, €/MWh) is the fair figure to set against a run without deferral.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from twin.trace.reader import Run
from twin.trace.scan import column_names, scan
from twin.trace.summary_stats import concat, manifest_end_s

COLUMNS = [
    "state",
    "submit_s",
    "start_s",
    "wait_s",
    "deadline_s",
    "deferred_s",
    "energy_mwh",
    "co2_t",
    "cost_eur",
]


def deferral_totals(run: Run) -> dict[str, Any]:
    """The deferrable jobs' figures; empty for a run without any (or written before them)."""
    if "deadline_s" not in column_names(run.path, "jobs"):
        return {}
    end = manifest_end_s(run.manifest)
    end_s = float(run.manifest.get("horizon_s", 0.0)) if end is None else end
    deferrable = deferred = missed = missed_unstarted = 0
    held: list[np.ndarray] = []
    waits: list[np.ndarray] = []
    energy = co2 = cost = 0.0
    for chunk in scan(run.path, "jobs", COLUMNS):
        rows = chunk.filter(pc.is_valid(chunk["deadline_s"]))
        if not len(rows):
            continue
        deferrable += len(rows)
        delays = rows["deferred_s"].drop_null().to_numpy()
        deferred += len(delays)
        held.append(delays)
        waits.append(rows["wait_s"].drop_null().to_numpy())
        deadline = rows["deadline_s"].to_numpy()
        start = rows["start_s"].to_numpy(zero_copy_only=False)
        started = ~np.isnan(start)
        unstarted_late = ~started & (deadline < end_s) & _not_ended(rows)
        missed += int(np.count_nonzero(started & (start > deadline))) + int(
            np.count_nonzero(unstarted_late)
        )
        missed_unstarted += int(np.count_nonzero(unstarted_late))
        energy += pc.sum(rows["energy_mwh"]).as_py() or 0.0
        co2 += pc.sum(rows["co2_t"]).as_py() or 0.0
        cost += pc.sum(rows["cost_eur"]).as_py() or 0.0
    if not deferrable:
        return {}
    delays, wait = concat(held), concat(waits)
    return {
        "deferrable": deferrable,
        "deferred": deferred,
        "deferred_mean_s": float(delays.mean()) if len(delays) else 0.0,
        "deferred_max_s": float(delays.max()) if len(delays) else 0.0,
        "wait_mean_s": float(wait.mean()) if len(wait) else float("nan"),
        "deadline_missed": missed,
        "deadline_missed_unstarted": missed_unstarted,
        "energy_mwh": energy,
        "co2_t": co2,
        "cost_eur": cost,
        "gco2_per_kwh": co2 * 1e6 / (energy * 1e3) if energy else float("nan"),
        "eur_per_mwh": cost / energy if energy else float("nan"),
    }


def _not_ended(rows: pa.Table) -> np.ndarray:
    """Jobs still waiting (cancelled or rejected jobs never owed a start)."""
    waiting = pc.is_in(
        rows["state"], value_set=pa.array(["submitted", "staging", "queued", "held"])
    )
    return waiting.to_numpy(zero_copy_only=False)
