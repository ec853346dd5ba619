"""Benchmark: twin against AccaSim 1.1.3 replaying the packaged SWF traces, side by side.

For each trace and policy pairing of :mod:`twin.validation.cases_scheduling` (FCFS, EASY,
greedy), the wall time of AccaSim's simulation alone and of a whole twin run (validate,
simulate, write the run directory), the ratio AccaSim / twin, and both mean waits and mean
bounded slowdowns with their relative error. Each AccaSim policy runs once per trace (EASY
and greedy share it).

Usage::

    python benchmarks/bench_scheduling_peer.py             # the whole traces (~6 min)
    python benchmarks/bench_scheduling_peer.py --jobs 2000 # the first 2000 jobs of each
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from twin.config.data_files import data_file
from twin.validation import cases_scheduling as scheduling
from twin.validation.peers import accasim_peer


def relative(ours: float, theirs: float) -> str:
    return f"{abs(ours - theirs) / theirs:.2%}" if theirs else f"{abs(ours - theirs):g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=None, help="first N jobs of each trace")
    args = parser.parse_args()
    print(f"AccaSim {accasim_peer.version()}")
    header = (
        f"{'trace':<10} {'pairing':<7} {'jobs':>6} {'AccaSim s':>9} {'twin s':>7} "
        f"{'ratio':>6}  {'wait twin':>11} {'wait peer':>11} {'err':>7}  "
        f"{'bsld twin':>10} {'bsld peer':>10} {'err':>7}"
    )
    print(header)
    with tempfile.TemporaryDirectory(prefix="bench-scheduling-") as scratch:
        for trace in scheduling.TRACES:
            folder = Path(scratch) / trace.file.split(".")[0]
            folder.mkdir()
            head = scheduling.copy_head(data_file(trace.file), folder / "trace.swf", args.jobs)
            peers: dict[str, scheduling.Schedule] = {}
            for pairing in scheduling.PAIRINGS:
                if pairing.peer not in peers:
                    run = accasim_peer.run(head.path, trace.nodes, pairing.peer)
                    peers[pairing.peer] = scheduling.peer_schedule(run)
                theirs = peers[pairing.peer]
                ours = scheduling.twin_schedule(head, trace.nodes, pairing.scheduler, folder)
                wait = (ours.mean_wait_s(), theirs.mean_wait_s())
                bsld = (ours.mean_bounded_slowdown(), theirs.mean_bounded_slowdown())
                print(
                    f"{trace.label:<10} {pairing.label:<7} {head.jobs:>6} "
                    f"{theirs.elapsed_s:>9.1f} {ours.elapsed_s:>7.1f} "
                    f"{theirs.elapsed_s / ours.elapsed_s:>6.1f}  "
                    f"{wait[0]:>11.1f} {wait[1]:>11.1f} {relative(*wait):>7}  "
                    f"{bsld[0]:>10.2f} {bsld[1]:>10.2f} {relative(*bsld):>7}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
