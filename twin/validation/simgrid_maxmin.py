"""Max-min rates by SimGrid (CM02 network model), as a standalone script: JSON on stdin
(``capacity_gbps`` per link, ``routes`` as link indices, optional ``caps_gbps`` per flow),
JSON on stdout (``version``, ``gbps`` per flow). It imports nothing of twin, so it runs in
any interpreter that has the ``simgrid`` package, and a crash of SimGrid cannot take the
report down with it.

The platform is built in code: one SimGrid link per twin channel (zero latency, shared), two
hosts per flow joined by a route over its channels. Every flow sends 10 TB from t = 0; its
rate is the bytes it has sent after one second (no flow finishes that soon). CM02 is
SimGrid's plain max-min model; cross-traffic (a reverse flow per transfer) and the TCP window
bound are switched off, so the model is the same problem twin solves.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

BYTES = 1e13
CONFIG = (
    "--cfg=network/model:CM02",
    "--cfg=network/crosstraffic:0",
    "--cfg=network/TCP-gamma:0",
    "--cfg=maxmin/precision:1e-12",
    "--cfg=precision/work-amount:1e-12",
    "--log=root.thres:critical",
)


def load_simgrid() -> ModuleType:
    """Import simgrid; its sdist build installs libsimgrid next to the extension without an
    rpath, so load that library first where it is there."""
    spec = importlib.util.find_spec("simgrid")
    if spec is None or spec.origin is None:
        raise ImportError("no module named 'simgrid'")
    for library in sorted(Path(spec.origin).parent.glob("libsimgrid.so.*")):
        ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)
    import simgrid

    return simgrid


def rates(
    simgrid: ModuleType,
    capacity_gbps: list[float],
    routes: list[list[int]],
    caps_gbps: list[float] | None = None,
) -> list[float]:
    """Each flow's rate (Gbps) one second after all start. A flow's cap is a link of that
    capacity on its route that no other flow crosses (SimGrid 4.1 refuses a comm's
    ``set_rate`` on ``sendto`` comms)."""
    engine = simgrid.Engine(["simgrid_maxmin", *CONFIG])
    zone = engine.netzone_root
    links = [
        zone.add_link(f"c{i}", gbps * 1e9 / 8).set_latency(0.0).seal()
        for i, gbps in enumerate(capacity_gbps)
    ]
    pairs = []
    for f, route in enumerate(routes):
        source = zone.add_host(f"s{f}", 1e9).seal()
        destination = zone.add_host(f"d{f}", 1e9).seal()
        hops = [links[i] for i in route]
        if caps_gbps is not None:
            hops.append(zone.add_link(f"cap{f}", caps_gbps[f] * 1e9 / 8).set_latency(0.0).seal())
        zone.add_route(source, destination, [simgrid.LinkInRoute(link) for link in hops], False)
        pairs.append((source, destination))
    clock = zone.add_host("clock", 1e9).seal()
    zone.seal()
    sent: list[float] = []

    def measure() -> None:
        comms = [simgrid.Comm.sendto_async(a, b, int(BYTES)) for a, b in pairs]
        simgrid.this_actor.sleep_for(1.0)
        sent.extend(BYTES - comm.remaining for comm in comms)
        for comm in comms:
            comm.cancel()

    clock.add_actor("measure", measure)
    engine.run()
    return [8 * bytes_per_s / 1e9 for bytes_per_s in sent]


def main() -> None:
    simgrid = load_simgrid()
    problem = json.load(sys.stdin)
    version = str(simgrid.simgrid_version)
    result = {
        "version": version,
        "gbps": rates(
            simgrid, problem["capacity_gbps"], problem["routes"], problem.get("caps_gbps")
        ),
    }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
