"""A runs directory made to break the dashboard: files linked outside it (holding a secret),
FIFOs, garbage and truncated tables, missing and wrong-typed columns, hostile configs, a run
known only by its ``.arrow.part`` files, telemetry far from time zero."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import yaml

SECRET = "TOP-SECRET-7c1e9b"
"""Written only in files outside the runs directory: no response may ever contain it."""
VISIBLE = "visible-marker-42d7"
"""The scenario of the good run: proof that a response does show what a manifest says."""

BROKEN = {
    "garbage": "sites",
    "truncated": "sites",
    "empty": "sites",
    "nocolumn": "busy_accelerators",
    "wrongtype": "busy_accelerators",
    "jobs_wrongtype": "wait_s",
    "badtimes": "time_s",
    "notobject": "JSON object",
    "dangling": "sites.arrow",
}
"""Malformed runs and a word their problem names."""
REFUSED = ("leak", "leak_config", "leak_table", "devzero", "fifo", "fifo_table", "loop", "escape")
"""Runs that must be refused, nothing of them read."""
HOSTILE_CONFIGS = {"bigconfig": "too large", "deepconfig": "nested", "bombconfig": "aliases"}
"""Runs whose config.yaml must be refused cheaply, and a word of the reason."""


def read(path: Path) -> pa.Table:
    with pa.memory_map(str(path)) as source:
        return ipc.open_file(source).read_all()


def write(path: Path, table: pa.Table) -> None:
    with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def replace_column(table: pa.Table, name: str, values: pa.Array | None) -> pa.Table:
    index = table.schema.get_field_index(name)
    if values is None:
        return table.remove_column(index)
    return table.set_column(index, name, values)


def copy(base: Path, root: Path, name: str) -> Path:
    return Path(shutil.copytree(base, root / name))


def manifest(run: Path, **changes: object) -> None:
    data = json.loads((run / "manifest.json").read_text())
    (run / "manifest.json").write_text(json.dumps(data | changes))


def make_hostile_runs(root: Path, outside: Path, base: Path) -> Path:
    """``root`` filled with the runs above; ``outside`` gets the secret files."""
    good = copy(base, root, "good")
    manifest(good, scenario=VISIBLE)
    incomplete = copy(base, root, "incomplete")
    manifest(incomplete, status="incomplete", reason="killed")

    # a killed run: its tables only as .arrow.part, the sites one cut mid-batch
    partial = copy(base, root, "partial")
    manifest(partial, status="incomplete", reason="SIGKILL")
    for table in ("sites", "jobs", "events"):
        (partial / f"{table}.arrow").rename(partial / f"{table}.arrow.part")
    sites = read(base / "sites.arrow")
    with (
        pa.OSFile(str(partial / "sites.arrow.part"), "wb") as sink,
        ipc.new_stream(sink, sites.schema) as writer,
    ):
        for batch in sites.to_batches(max_chunksize=50):
            writer.write_batch(batch)
    data = (partial / "sites.arrow.part").read_bytes()
    (partial / "sites.arrow.part").write_bytes(data[: len(data) - 700])

    # broken tables and manifests
    (copy(base, root, "garbage") / "sites.arrow").write_bytes(os.urandom(5000))
    cut = copy(base, root, "truncated") / "sites.arrow"
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    (copy(base, root, "empty") / "sites.arrow").write_bytes(b"")
    run = copy(base, root, "nocolumn")
    write(run / "sites.arrow", replace_column(sites, "busy_accelerators", None))
    run = copy(base, root, "wrongtype")
    lots = pa.array(["lots"] * sites.num_rows)
    write(run / "sites.arrow", replace_column(sites, "busy_accelerators", lots))
    run = copy(base, root, "jobs_wrongtype")
    jobs = read(base / "jobs.arrow")
    write(run / "jobs.arrow", replace_column(jobs, "wait_s", pa.array(["x"] * jobs.num_rows)))
    run = copy(base, root, "badtimes")
    times = sites.column("time_s").to_numpy().copy()
    times[[3, 7]] = [np.inf, np.nan]
    write(run / "sites.arrow", replace_column(sites, "time_s", pa.array(times)))
    run = copy(base, root, "fartimes")  # valid, but ~3,000 years from time zero
    far = pc.add(sites.column("time_s"), 1e11)
    write(run / "sites.arrow", replace_column(sites, "time_s", far))
    (copy(base, root, "notobject") / "manifest.json").write_text("[1, 2, 3]")
    run = copy(base, root, "dangling")
    (run / "sites.arrow").unlink()
    os.symlink(run / "gone.arrow", run / "sites.arrow")

    # demand regions: a service id no metric name could hold, a region the config does not
    # place, one interval not ended at the first stamp; then the same table wrong-typed
    run = copy(base, root, "odd_regions")
    stamps = sorted(set(sites.column("time_s").to_pylist()))[:4]
    rows = [
        {
            "time_s": t,
            "service": service,
            "region": region,
            "arrivals": 10 * i,
            "served": 9 * i,
            "dropped": i,
            "slo_misses": i,
            "rtt_ms": 12.5,
        }
        for i, t in enumerate(stamps)
        for service in ("chat bot", "a[b]")
        for region in ("nowhere", "é")
    ]
    regions = pa.Table.from_pylist(rows, schema=_regions_schema())
    write(run / "inference_regions.arrow", regions)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config.setdefault("workloads", {})["inference"] = {
        "regions": [{"id": "é", "lat": 48.9, "lon": 2.3, "share": 1.0}, {"id": "x", "lat": 95}]
    }
    (run / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    run = copy(base, root, "regions_wrongtype")
    arrivals = pa.array(["many"] * regions.num_rows)
    write(run / "inference_regions.arrow", replace_column(regions, "arrivals", arrivals))

    # the secret, outside the runs directory
    secret = outside / "secret"
    secret.mkdir()
    config = yaml.safe_load((base / "config.yaml").read_text())
    for site in config["sites"]:
        site["name"] = SECRET
    (secret / "config.yaml").write_text(yaml.safe_dump(config))
    manifest_text = json.loads((base / "manifest.json").read_text()) | {"scenario": SECRET}
    (secret / "manifest.json").write_text(json.dumps(manifest_text))
    secret_sites = pa.array([SECRET] * sites.num_rows)
    write(secret / "sites.arrow", replace_column(sites, "site", secret_sites))
    write(secret / "jobs.arrow", replace_column(jobs, "tenant", pa.array([SECRET] * jobs.num_rows)))
    run = root / "leak"  # every file a link to the outside
    run.mkdir()
    for name in ("manifest.json", "config.yaml", "sites.arrow", "jobs.arrow"):
        os.symlink(secret / name, run / name)
    run = copy(base, root, "leak_config")
    (run / "config.yaml").unlink()
    os.symlink(secret / "config.yaml", run / "config.yaml")
    run = copy(base, root, "leak_table")
    (run / "sites.arrow").unlink()
    os.symlink(secret / "sites.arrow", run / "sites.arrow")
    run = copy(base, root, "devzero")
    (run / "jobs.arrow").unlink()
    os.symlink("/dev/zero", run / "jobs.arrow")
    run = copy(base, root, "loop")
    (run / "config.yaml").unlink()
    os.symlink(run / "config.yaml", run / "config.yaml")
    shutil.copytree(base, outside / "escaped")
    manifest(outside / "escaped", scenario=SECRET)
    os.symlink(outside / "escaped", root / "escape", target_is_directory=True)

    # files that would hang or never end a read
    run = copy(base, root, "fifo")
    (run / "manifest.json").unlink()
    os.mkfifo(run / "manifest.json")
    run = copy(base, root, "fifo_table")
    (run / "sites.arrow").unlink()
    os.mkfifo(run / "sites.arrow")

    # configs that would cost seconds to parse or walk
    run = copy(base, root, "bigconfig")
    with open(run / "config.yaml", "w") as handle:
        for _ in range(1000):
            handle.write("key: value\n" * 4600)  # ~50 MB
    (copy(base, root, "deepconfig") / "config.yaml").write_text("[" * 900 + "]" * 900)
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    (copy(base, root, "bombconfig") / "config.yaml").write_text("\n".join(lines) + "\n")
    return root


def _regions_schema() -> pa.Schema:
    """``inference_regions`` as twin writes it (the trace schema, every column)."""
    from twin.trace.schema import INFERENCE_REGIONS

    return INFERENCE_REGIONS
