"""What faults cost in wall time: ``twin run europe`` with the ``ai_scale_failures`` what-if
against the same run without faults, side by side in one run (fresh processes, alternating
so that the machine's drift hits both alike). The aim is at most 1.2×.

Also printed, from the faulty run's trace: how many failures it simulated and the goodput,
so that the ratio is read against how much fault handling the run did.

Usage::

    python benchmarks/bench_faults.py            # europe 7 d, median of 3 pairs
    python benchmarks/bench_faults.py --quick    # europe 1 d, one pair
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FAULTS = ["--whatif", "ai_scale_failures"]


def timed_run(args: list[str], out: Path) -> float:
    """Wall time [s] of ``twin run ARGS`` in a fresh process."""
    command = [sys.executable, "-m", "twin", "run", *args, "-q", "--out", str(out)]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"twin run {' '.join(args)} failed: {result.stderr}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="europe 1 d, one pair")
    options = parser.parse_args()
    horizon, pairs = ("1d", 1) if options.quick else ("7d", 3)
    base = ["europe", "--horizon", horizon]
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f} at start")
    subprocess.run([sys.executable, "-m", "twin", "compile"], capture_output=True, check=False)
    with tempfile.TemporaryDirectory() as tmp:
        plain, faulty = [], []
        for k in range(pairs):
            order = [(False, plain), (True, faulty)]
            for with_faults, into in order if k % 2 == 0 else order[::-1]:
                out = Path(tmp) / f"{'faults' if with_faults else 'plain'}{k}"
                into.append(timed_run(base + (FAULTS if with_faults else []), out))
        from twin.trace.reader import open_run
        from twin.trace.summary import summarize

        summary = summarize(open_run(Path(tmp) / "faults0"))
    without, with_ = statistics.median(plain), statistics.median(faulty)
    faults = summary.faults
    print(f"europe {horizon}, median of {pairs}:")
    print(f"  without faults              {without:7.1f} s")
    print(
        f"  with ai_scale_failures      {with_:7.1f} s   "
        f"({faults['accelerator_failures']:,} failures, {faults['restarts']:,} restarts, "
        f"goodput {100 * faults['goodput']:.2f}%)"
    )
    print(f"  ratio                       {with_ / without:7.2f}×  (aim ≤ 1.2×)")


if __name__ == "__main__":
    main()
