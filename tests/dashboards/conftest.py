"""Fixtures of the dashboard tests: a runs directory holding real tiny runs, a run with
synthetic network/inference tables, and broken ones; a sweep of real tiny runs; and the
headless Chromium options."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
import yaml

CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-extensions",
    "--no-first-run",
    "--window-size=1440,1100",
)

SERVICES = ("chat", "search")
LINKS = (("north", "pop_x", 400.0), ("pop_x", "south", 100.0))


def simulate_tiny(out: Path, *overrides: str) -> Path:
    from twin.config import load_config
    from twin.simulation import simulate

    simulate(load_config("tiny", overrides=["horizon=6h", *overrides]), out=out)
    return out


def write_arrow(path: Path, table: pa.Table) -> None:
    with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def table_like(name: str, columns: dict[str, list]) -> pa.Table:
    """A synthetic table shaped like ``twin.trace.schema``'s ``name`` once the model writes
    it (other columns filled with nulls or zeros), or as given while it is only planned."""
    from twin.trace.schema import TABLES

    schema = TABLES.get(name)
    if schema is None:
        return pa.table(columns)
    rows = len(next(iter(columns.values())))
    arrays = []
    for field in schema:
        if field.name in columns:
            arrays.append(pa.array(columns[field.name], type=field.type))
        elif field.nullable:
            arrays.append(pa.nulls(rows, type=field.type))
        elif pa.types.is_string(field.type):
            arrays.append(pa.array([""] * rows, type=field.type))
        else:
            arrays.append(pa.array(np.zeros(rows)).cast(field.type))
    extra = [key for key in columns if key not in schema.names]
    arrays += [pa.array(columns[key]) for key in extra]
    return pa.Table.from_arrays(arrays, names=[*schema.names, *extra])


def add_network(run: Path) -> None:
    """Give a tiny run a PoP, two links and synthetic links/inference/transfers tables (the
    planned column names), stamped like its sites table."""
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["pops"] = [{"id": "pop_x", "name": "Exchange", "lat": 52.5, "lon": 13.4}]
    config["links"] = [{"a": a, "b": b, "capacity_gbps": c} for a, b, c in LINKS]
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    sites = ipc.open_file(pa.memory_map(str(run / "sites.arrow"))).read_all()
    stamps = np.unique(sites.column("time_s").to_numpy())
    rows: dict[str, list] = {k: [] for k in ("time_s", "link", "a", "b", "capacity_gbps")}
    rows |= {"throughput_gbps": [], "utilisation": [], "active_flows": []}
    for i, t in enumerate(stamps):
        for a, b, capacity in LINKS:
            for src, dst in ((a, b), (b, a)):
                util = (0.1 + 0.8 * ((i * 7 + len(src)) % 10) / 10) if src == a else 0.05
                rows["time_s"].append(float(t))
                rows["link"].append(f"{a}~{b}")
                rows["a"].append(src)
                rows["b"].append(dst)
                rows["capacity_gbps"].append(capacity)
                rows["throughput_gbps"].append(util * capacity)
                rows["utilisation"].append(util)
                rows["active_flows"].append(i % 5)
    write_arrow(run / "links.arrow", table_like("links", rows))
    inference: dict[str, list] = {
        k: []
        for k in (
            "time_s",
            "service",
            "site",
            "arrivals",
            "served",
            "dropped",
            "latency_p50_ms",
            "latency_p95_ms",
            "latency_p99_ms",
            "ttft_p99_ms",
            "tpot_p99_ms",
            "slo_misses",
        )
    }
    for i, t in enumerate(stamps):
        for site in ("north", "south"):
            for k, service in enumerate(SERVICES):
                inference["time_s"].append(float(t))
                inference["service"].append(service)
                inference["site"].append(site)
                inference["arrivals"].append(100 + i)
                inference["served"].append(95 + i)
                inference["dropped"].append(5)
                inference["latency_p50_ms"].append(50.0 + k)
                inference["latency_p95_ms"].append(120.0 + k)
                inference["latency_p99_ms"].append(200.0 + 10 * k + (i % 6) * 15)
                inference["ttft_p99_ms"].append(300.0)
                inference["tpot_p99_ms"].append(40.0)
                inference["slo_misses"].append(i % 4)
    write_arrow(run / "inference.arrow", table_like("inference", inference))
    durations = np.geomspace(0.5, 5000, 60)
    starts = np.arange(60) * 100.0
    transfers = {
        "transfer": list(range(60)),
        "kind": ["dataset", "checkpoint", "bulk"] * 20,
        "source": ["north"] * 60,
        "destination": ["south"] * 60,
        "bytes": [1e10] * 60,
        "start_s": list(starts),
        "end_s": list(starts + durations),
        "duration_s": list(durations),
        "route": ["north>pop_x>south"] * 60,
        "state": ["delivered"] * 60,
    }
    write_arrow(run / "transfers.arrow", table_like("transfers", transfers))


def make_runs(root: Path, outside: Path) -> Path:
    """The runs directory the tests share (about a second to make)."""
    base = simulate_tiny(root / "base", "policies.placement=least_loaded")
    simulate_tiny(root / "green", "policies.placement=lowest_carbon")
    shutil.copytree(base, root / "net")
    add_network(root / "net")
    # broken in the ways a runs directory can be
    (root / "nomanifest").mkdir()
    (root / "nomanifest" / "notes.txt").write_text("not a run")
    shutil.copytree(base, root / "badjson")
    (root / "badjson" / "manifest.json").write_text("{not json")
    shutil.copytree(base, root / "incomplete")
    manifest = json.loads((base / "manifest.json").read_text())
    manifest |= {"status": "incomplete", "reason": "KeyboardInterrupt"}
    (root / "incomplete" / "manifest.json").write_text(json.dumps(manifest))
    shutil.copytree(base, root / "truncated")
    data = (base / "sites.arrow").read_bytes()
    (root / "truncated" / "sites.arrow").write_bytes(data[: len(data) // 2])
    shutil.copytree(base, root / "nosites")
    (root / "nosites" / "sites.arrow").unlink()
    # a run outside the runs dir, and a symlink in it pointing there
    shutil.copytree(base, outside / "secret")
    os.symlink(outside / "secret", root / "escape", target_is_directory=True)
    return root


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_runs(tmp_path_factory.mktemp("runs"), tmp_path_factory.mktemp("outside"))


@pytest.fixture(scope="session")
def fault_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real tiny runs: ``outage`` (north down from 2 h to 4 h, accelerators failing)
    and ``plain`` (no faults)."""
    root = tmp_path_factory.mktemp("faultruns")
    simulate_tiny(
        root / "outage",
        "faults.accelerators.rate_per_hour=0.002",
        "faults.sites.scheduled=[{site: north, start: 2h, duration: 2h}]",
    )
    simulate_tiny(root / "plain")
    return root


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser tests save screenshots (printed, for a person to look at)."""
    wanted = os.environ.get("TWIN_DASH_SCREENSHOTS")
    path = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    print(f"\ndashboard screenshots: {path}")
    return path


@pytest.hookimpl(optionalhook=True)
def pytest_setup_options():
    """Chromium options for dash's ``dash_duo`` (headless, sandbox-free, offline)."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    for argument in CHROME_ARGS:
        options.add_argument(argument)
    if os.path.exists(CHROMIUM):
        options.binary_location = CHROMIUM
    return options


@pytest.fixture(autouse=True)
def _webdriver_timeouts(request):
    """A stuck browser fails the test instead of hanging the suite (selenium waits forever
    on its HTTP calls by default)."""
    if "dash_duo" in request.fixturenames:
        from selenium.webdriver.remote.remote_connection import RemoteConnection

        RemoteConnection.set_timeout(60)
    yield


@pytest.fixture(scope="session")
def hostile_dir(tmp_path_factory: pytest.TempPathFactory, runs_dir: Path) -> Path:
    """A runs directory of hostile and broken runs and sweeps (tests/dashboards/hostile.py,
    hostile_sweeps.py)."""
    from .hostile import make_hostile_runs
    from .hostile_sweeps import make_hostile_sweeps

    outside = tmp_path_factory.mktemp("outside")
    root = make_hostile_runs(tmp_path_factory.mktemp("hostile"), outside, runs_dir / "base")
    make_hostile_sweeps(root, outside, runs_dir / "base")
    return root


# -- sweeps --------------------------------------------------------------------------------------

SWEEP_PARAMS = ("policies.placement", "workloads.training.arrivals_per_day")
SWEEP_VALUES = (("least_loaded", "lowest_carbon"), ("1200", "400"))  # file order, not numeric
SWEEP_SEEDS = (1, 2, 3)
SWEEP_METRICS = ("co2_t", "jobs.completed", "jobs.wait_mean_s", "sites.utilisation")


def digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:16]


def write_sweep(directory: Path, rows: list[dict], params=SWEEP_PARAMS, metrics=SWEEP_METRICS):
    """``directory/sweep.arrow`` from ``rows`` (fixed columns, ``params`` and ``metrics``
    by name), with the sweep engine's schema."""
    from twin.sweep.table import METRIC, PARAM, sweep_schema

    schema = sweep_schema(list(params), list(metrics))
    columns = {}
    for field in schema:
        key = field.name.removeprefix(PARAM).removeprefix(METRIC)
        columns[field.name] = [row.get(field.name, row.get(key)) for row in rows]
    directory.mkdir(parents=True, exist_ok=True)
    write_arrow(directory / "sweep.arrow", pa.table(columns, schema=schema))


def point_row(label: str, seed: int, values: dict, status: str = "complete", **extra) -> dict:
    point = digest(f"{label}/{seed}")
    return {
        "point": point,
        "config": digest(label),
        "label": label,
        "seed": seed,
        "status": status,
        "reason": None if status == "complete" else extra.pop("reason", "it broke"),
        "run": f"points/{point}",
        "wall_s": 0.1,
        "host": "here",
        **values,
        **extra,
    }


def make_sweep(directory: Path) -> list[dict]:
    """A real sweep of the tiny scenario (2 placements x 2 arrival rates x 3 seeds, 2 h
    each) written as the sweep engine lays it out, plus one failed point; its rows."""
    from twin.analysis import measure

    rows = []
    for placement in SWEEP_VALUES[0]:
        for rate in SWEEP_VALUES[1]:
            values = dict(zip(SWEEP_PARAMS, (placement, rate), strict=True))
            label = ", ".join(f"{p}={v}" for p, v in values.items())
            for seed in SWEEP_SEEDS:
                row = point_row(label, seed, values)
                run = directory / row["run"]
                overrides = [f"{p}={v}" for p, v in values.items()]
                simulate_tiny(run, *overrides, f"seed={seed}", "horizon=2h")
                rows.append(row | measure(run, list(SWEEP_METRICS)))
    first = dict(zip(SWEEP_PARAMS, ("least_loaded", "1200"), strict=True))
    failed = point_row(rows[0]["label"], 4, first)
    rows.insert(3, failed | {"status": "failed", "reason": "MemoryError", "wall_s": None})
    write_sweep(directory, rows)
    return rows


@pytest.fixture(scope="session")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs directory holding one run and the sweep ``grid`` (``grid/sweep.arrow`` and
    ``grid/points/<hash>/``)."""
    root = tmp_path_factory.mktemp("sweeps")
    simulate_tiny(root / "base", "horizon=2h")
    make_sweep(root / "grid")
    return root


def _inference_kit():
    """The inference tests' scenario builders (their conftest is not importable by name)."""
    path = Path(__file__).parents[1] / "inference" / "conftest.py"
    spec = importlib.util.spec_from_file_location("inference_kit", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Kit


Kit = _inference_kit()
"""The inference tests' scenario builders, for runs with latency sketches."""
