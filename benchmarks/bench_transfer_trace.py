"""Transfer list replay speed: the europe backbone with a Poisson stream of bulk transfers
against the same transfers replayed from a CSV list (``workloads.transfers.trace``, the
generator off), side by side in one process (alternating, median of the repeats).

The list is the synthetic run's own transfers (start, ends, bytes), so both runs move the
same bytes at the same times over the same links; the replay also pays for reading and
checking the list (at World construction, timed with the run). The report also says
whether the replay delivered every transfer at the same instant as the synthetic run.

Usage::

    python benchmarks/bench_transfer_trace.py           # 10,000 transfers in 2 h, median of 3
    python benchmarks/bench_transfer_trace.py --quick   # 1,000 transfers in 12 min, once
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from twin.config import load_raw, validate_scenario
from twin.model.recorder import Recorder
from twin.model.world import World


class Collector(Recorder):
    """Keeps (id, start, source, destination, bytes, end) of every transfer."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, float, str, str, float, float | None]] = []

    def transfer_ended(self, transfer: Any) -> None:
        self.rows.append(
            (
                transfer.id,
                transfer.submit_s,
                transfer.source,
                transfer.destination,
                transfer.bytes,
                transfer.end_s,
            )
        )


def synthetic_data(transfers: int, hours: float) -> dict[str, Any]:
    """``europe`` with only bulk transfers: about ``transfers`` start within ``hours``."""
    data = load_raw("europe")
    data["horizon"] = hours * 3600.0
    data["telemetry"]["interval"] = min(900.0, hours * 3600.0 / 4)
    data["workloads"]["training"]["enabled"] = False
    if "inference" in data["workloads"]:
        data["workloads"]["inference"]["enabled"] = False
    data["workloads"]["transfers"] = {
        "arrivals_per_day": transfers * 24.0 / hours,
        "size_gb": {"dist": "lognormal", "median": 50, "sigma": 1.0, "max": 20000},
    }
    return data


def replay_data(data: dict[str, Any], listed: Path) -> dict[str, Any]:
    replay = copy.deepcopy(data)
    replay["workloads"]["transfers"] = {"trace": {"file": str(listed), "align": "zero"}}
    return replay


def timed_run(data: dict[str, Any]) -> tuple[float, Collector]:
    scenario = validate_scenario(data)
    collector = Collector()
    began = time.perf_counter()
    world = World(scenario, collector)
    world.run(steps=1)
    world.finish()
    return time.perf_counter() - began, collector


def write_list(rows: list[tuple], path: Path) -> None:
    lines = ["start_s,source,destination,bytes,label"]
    lines += [f"{start!r},{a},{b},{size!r},t{n}" for n, start, a, b, size, _ in sorted(rows)]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=10_000)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1,000 transfers in 12 min, once")
    args = parser.parse_args()
    if args.quick:
        args.transfers, args.hours, args.repeats = 1_000, 0.2, 1
    data = synthetic_data(args.transfers, args.hours)
    with tempfile.TemporaryDirectory() as folder:
        listed = Path(folder) / "transfers.csv"
        _, first = timed_run(data)
        write_list(first.rows, listed)
        replay = replay_data(data, listed)
        synthetic_s, replay_s = [], []
        for _ in range(args.repeats):
            wall, synthetic = timed_run(data)
            synthetic_s.append(wall)
            wall, replayed = timed_run(replay)
            replay_s.append(wall)
    ends = {row[0]: row[5] for row in synthetic.rows}
    same = sorted(ends.items()) == sorted((row[0], row[5]) for row in replayed.rows)
    a, b = statistics.median(synthetic_s), statistics.median(replay_s)
    print(f"europe, bulk transfers only: {len(ends):,} transfers in {args.hours:g} h")
    print(f"{'':24}{'synthetic':>12}{'replayed':>12}{'ratio':>8}")
    print(f"{'wall time (median)':24}{a:>11.2f}s{b:>11.2f}s{b / a:>8.2f}")
    print(f"{'transfers per wall s':24}{len(ends) / a:>12,.0f}{len(replayed.rows) / b:>12,.0f}")
    print(f"same delivery instants: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
