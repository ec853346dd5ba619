"""Load benchmark of the dashboard: concurrent clients over loopback against a real server.

Makes three small runs (``tiny``, one simulated day, three placement policies) and, beside
them, 30 more run folders (copies, a third of them with a truncated table, a third with a
manifest that is not JSON: the runs list has work to do), serves ``create_app`` with
werkzeug's multi-threaded server on 127.0.0.1, and fires N concurrent
clients × M requests each (default 20 × 50) at a mix of the app's real server callbacks,
with the payloads the browser sends (built from ``app.callback_map`` by
``twin.dashboards.guard.request_body``): the runs list, a replay map frame at a random
time, a factory's series, a page of jobs (random filter, sort and page), the compare page
and its two maps. Each request is timed from connect to the last byte of the answer.

Printed: per callback and overall, the request count, errors (anything but 200/204 or a
failed connection), p50/p90/p99 latency; then the same mix from one client alone (the
contrast: what concurrency adds is queueing for the interpreter, two cores, one GIL); the
machine's load average and core count at start and end (other processes share the cores).
Each phase gets a fresh server with cold caches, warmed by one request of each kind.

Usage::

    python benchmarks/bench_dashboard_load.py            # 20 clients × 50 requests
    python benchmarks/bench_dashboard_load.py --quick    # 20 clients × 10 requests, 6 h runs
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from twin.dashboards import create_app, ids
from twin.dashboards.guard import request_body
from werkzeug.serving import make_server

from twin.config import load_config
from twin.simulation import simulate

RUNS = {"base": "least_loaded", "green": "lowest_carbon", "cheap": "lowest_cost"}
SITES = ("site:north", "site:south")
QUERIES = ("", "{state} scontains completed", "{wait_h} > 0.5", "{accelerators} >= 4")
SORTS = ("wait_h", "submit_h", "site", "energy_mwh")


def make_runs(root: Path, horizon: str, extra: int) -> None:
    for name, placement in RUNS.items():
        overrides = [f"horizon={horizon}", f"policies.placement={placement}"]
        simulate(load_config("tiny", overrides=overrides), out=root / name)
    for index in range(extra):
        copy = Path(shutil.copytree(root / "base", root / f"extra-{index:02d}"))
        if index % 3 == 1:
            sites = copy / "sites.arrow"
            sites.write_bytes(sites.read_bytes()[: sites.stat().st_size // 2])
        elif index % 3 == 2:
            (copy / "manifest.json").write_text("{not json")


class Mix:
    """Request bodies of the callbacks measured, drawn at random like a user would."""

    KINDS = ("runs list", "replay map", "site series", "jobs page", "compare", "compare maps")

    def __init__(self, app, horizon_s: float) -> None:
        self.app = app
        self.horizon_s = horizon_s
        keys = list(app.callback_map)

        def key(output: str) -> str:
            return next(k for k in keys if k == output or k.startswith(f"..{output}..."))

        self.outputs = {
            "runs list": key(f"{ids.PAGE}.children"),
            "replay map": key(f"{ids.REPLAY_MAP}.figure"),
            "site series": key(f"{ids.REPLAY_SERIES}.figure"),
            "jobs page": key(f"{ids.EXPLORE_JOBS}.data"),
            "compare": key(f"{ids.COMPARE_STATUS}.children"),
            "compare maps": key(f"{ids.COMPARE_MAP_A}.figure"),
        }

    def values(self, kind: str, rng: random.Random) -> list:
        run = rng.choice(list(RUNS))
        a, b = rng.sample(list(RUNS), 2)
        t = rng.uniform(0.0, self.horizon_s)
        if kind == "runs list":
            return ["/", ""]
        if kind == "replay map":
            return [t, run, rng.choice(SITES)]
        if kind == "site series":
            return [rng.choice(SITES), run, t]
        if kind == "jobs page":
            sort = [{"column_id": rng.choice(SORTS), "direction": rng.choice(("asc", "desc"))}]
            return [run, None, None, None, rng.choice(QUERIES), sort, rng.randrange(4), 20]
        if kind == "compare":
            return [a, b, t]
        return [t, a, b]

    def body(self, kind: str, rng: random.Random) -> bytes:
        values = self.values(kind, rng)
        return json.dumps(request_body(self.app, self.outputs[kind], values)).encode()


def post(url: str, body: bytes) -> tuple[float, bool]:
    """Latency (s) of one callback request, and whether it answered 200 or 204."""
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            ok = response.status in (200, 204)
    except (urllib.error.URLError, OSError):
        ok = False
    return time.perf_counter() - started, ok


def phase(root: Path, horizon_s: float, clients: int, requests: int, seed: int) -> dict:
    """A fresh server; each client sends ``requests`` requests of random kinds."""
    app = create_app(root)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/_dash-update-component"
    mix = Mix(app, horizon_s)
    warm = random.Random(seed)
    for kind in Mix.KINDS:
        for _ in range(len(RUNS)):
            post(url, mix.body(kind, warm))

    def client(index: int) -> list[tuple[str, float, bool]]:
        rng = random.Random(seed * 1000 + index)
        bodies = [(kind, mix.body(kind, rng)) for kind in rng.choices(Mix.KINDS, k=requests)]
        return [(kind, *post(url, body)) for kind, body in bodies]

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = [r for rs in pool.map(client, range(clients)) for r in rs]
    wall = time.perf_counter() - started
    server.shutdown()
    thread.join()
    by_kind: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for kind, latency, ok in results:
        by_kind[kind].append((latency, ok))
        by_kind["all"].append((latency, ok))
    return {"wall_s": wall, "by_kind": by_kind}


def row(label: str, samples: list[tuple[float, bool]]) -> str:
    latencies = np.array([s[0] for s in samples]) * 1e3
    errors = sum(not ok for _, ok in samples)
    p50, p90, p99 = np.percentile(latencies, [50, 90, 99])
    return f"{label:14}{len(samples):7}{errors:7}{p50:9.1f}{p90:9.1f}{p99:9.1f}"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 requests per client, 6 h runs")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, help="per client (default 50, quick 10)")
    parser.add_argument("--extra", type=int, default=30, help="more run folders (default 30)")
    args = parser.parse_args()
    horizon = "6h" if args.quick else "1d"
    requests = args.requests or (10 if args.quick else 50)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    print(f"at start: {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        make_runs(root, horizon, args.extra)
        spent = time.perf_counter() - started
        print(
            f"simulated {len(RUNS)} tiny runs of {horizon} (+{args.extra} more folders) "
            f"in {spent:.1f} s"
        )
        horizon_s = float(json.loads((root / "base" / "manifest.json").read_text())["horizon_s"])
        many = phase(root, horizon_s, args.clients, requests, seed=1)
        one = phase(root, horizon_s, 1, requests, seed=2)
    header = f"{'callback':14}{'reqs':>7}{'errors':>7}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}"
    for label, result in ((f"{args.clients} clients", many), ("1 client", one)):
        print(
            f"\n{label} × {requests} requests over loopback (werkzeug, threaded): "
            f"{len(result['by_kind']['all']) / result['wall_s']:.0f} requests/s"
        )
        print(header)
        for kind in (*Mix.KINDS, "all"):
            print(row(kind, result["by_kind"][kind]))
    print(f"\nat end: {load()}")


if __name__ == "__main__":
    main()
