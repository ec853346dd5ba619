"""A run directory can only show what is inside the runs directory, and no file of it can
hang or stall the server: links to the outside, FIFOs, /dev/zero, link loops, oversized,
deeply nested and alias-bomb configs are refused or shown as malformed, quickly."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from twin.dashboards import create_app, ids
from twin.dashboards.errors import RunAccessError, RunError
from twin.dashboards.guard import request_body, server_callbacks
from twin.dashboards.pages import replay
from twin.dashboards.store import RunStore

from .hostile import BROKEN, HOSTILE_CONFIGS, REFUSED, SECRET, VISIBLE

RUN_INPUTS = {
    (ids.REPLAY_RUN, "value"),
    (ids.EXPLORE_RUN, "value"),
    (ids.COMPARE_A, "value"),
    (ids.COMPARE_B, "value"),
}
"""Callback inputs that name a run."""
SENSIBLE = {
    "value": None,
    "pathname": "/",
    "search": "",
    "n_clicks": 1,
    "n_intervals": 1,
    "filter_query": "",
    "sort_by": [],
    "page_current": 0,
    "page_size": 20,
    "clickData": None,
}
"""What a browser sends for the other inputs."""


@pytest.fixture(scope="module")
def store(hostile_dir):
    return RunStore(hostile_dir)


@pytest.fixture(scope="module")
def client(hostile_dir):
    return create_app(hostile_dir).server.test_client()


def outside_file(hostile_dir: Path, name: str) -> Path:
    """A file holding the secret, outside the runs directory (where ``leak`` links to)."""
    return Path(os.path.realpath(hostile_dir / "leak" / name))


def test_the_secret_is_really_outside(hostile_dir):
    for name in ("manifest.json", "config.yaml", "sites.arrow", "jobs.arrow"):
        target = outside_file(hostile_dir, name)
        assert not target.is_relative_to(hostile_dir.resolve())
        assert SECRET.encode() in target.read_bytes()  # what a leak would show


@pytest.mark.parametrize("name", REFUSED)
def test_runs_with_files_outside_or_not_regular_are_refused(store, name):
    started = time.monotonic()
    info = store.info(name)
    assert info.status == "refused", info
    assert SECRET not in repr(info)
    with pytest.raises(RunAccessError, match="refused"):
        store.get(name)
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("leak", "points outside"),
        ("leak_config", "config.yaml points outside"),
        ("leak_table", "sites.arrow points outside"),
        ("devzero", "jobs.arrow points outside"),
        ("fifo", "manifest.json is not a regular file"),
        ("fifo_table", "sites.arrow is not a regular file"),
        ("loop", "cannot be resolved"),
        ("escape", "outside the runs directory"),
    ],
)
def test_a_refusal_says_which_file_and_why(store, name, why):
    assert why in store.info(name).problem


@pytest.mark.parametrize(("name", "word"), sorted(BROKEN.items()))
def test_malformed_runs_say_what_is_wrong(store, name, word):
    info = store.info(name)
    if info.status == "malformed":  # seen in the listing (schemas, manifest)
        assert word in info.problem
        return
    # seen when the table is read (its values): the map says so instead of drawing
    figure, clock = replay.map_frame(store, name, 0.0)
    text = figure["layout"]["annotations"][0]["text"]
    assert "malformed" in text and word in text and clock == ""


@pytest.mark.parametrize(("name", "word"), sorted(HOSTILE_CONFIGS.items()))
def test_hostile_configs_are_refused_cheaply(hostile_dir, name, word):
    started = time.monotonic()
    store = RunStore(hostile_dir)  # nothing cached
    info = store.info(name)
    assert info.status == "malformed" and "config.yaml" in info.problem and word in info.problem
    data = store.get(name)  # the tables are fine: the run opens, without a map
    assert data.geo.sites == () and data.snapshot(3600.0).sites
    assert time.monotonic() - started < 2.0


def test_a_file_linked_outside_after_opening_is_refused_when_read(tmp_path, hostile_dir):
    root = tmp_path / "runs"
    shutil.copytree(hostile_dir / "good", root / "run")
    store = RunStore(root)
    data = store.get("run")  # opened; its tables are read on first use
    sites = root / "run" / "sites.arrow"
    sites.unlink()
    os.symlink(outside_file(hostile_dir, "sites.arrow"), sites)
    with pytest.raises(RunError) as refused:
        data.snapshot(0.0)
    assert SECRET not in str(refused.value)
    assert store.info("run").status == "refused"
    with pytest.raises(RunAccessError):
        store.get("run")


def test_the_same_file_read_as_checked(tmp_path, hostile_dir):
    root = tmp_path / "runs"
    shutil.copytree(hostile_dir / "good", root / "run")
    data = RunStore(root).get("run")
    os.replace(root / "run" / "sites.arrow", root / "run" / "old.arrow")
    shutil.copy(root / "run" / "old.arrow", root / "run" / "sites.arrow")  # a new inode
    with pytest.raises(RunError, match="replaced"):
        data.snapshot(0.0)


# -- over HTTP -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(hostile_dir):
    return create_app(hostile_dir)


def responses(app, names):
    """Every page and every server callback, with each of ``names`` for the run inputs."""
    client = app.server.test_client()
    yield "GET /", client.get("/")
    yield "GET /_dash-layout", client.get("/_dash-layout")
    route = next(k for k, spec in server_callbacks(app).items() if k == f"{ids.PAGE}.children")
    yield (
        "runs page",
        client.post("/_dash-update-component", json=request_body(app, route, ["/", ""])),
    )
    for name in names:
        for page in ("replay", "explore"):
            values = [f"/{page}", f"?run={name}"]
            body = request_body(app, route, values)
            yield f"{page} page", client.post("/_dash-update-component", json=body)
        yield (
            "compare page",
            client.post(
                "/_dash-update-component",
                json=request_body(app, route, ["/compare", f"?a={name}&b=good"]),
            ),
        )
        for output, spec in server_callbacks(app).items():
            values = [
                name
                if (d["id"], d["property"]) in RUN_INPUTS
                else "site:north"
                if d["id"] == ids.REPLAY_SELECT
                else 3600.0
                if d["property"] == "value" and "slider" in d["id"]
                else SENSIBLE.get(d["property"])
                for d in [*spec["inputs"], *spec["state"]]
            ]
            body = request_body(app, output, values)
            yield output, client.post("/_dash-update-component", json=body)


def test_no_response_contains_anything_from_outside(app):
    seen = 0
    for what, response in responses(app, [*REFUSED, "good"]):
        assert response.status_code in (200, 204), (what, response.status_code)
        assert SECRET.encode() not in response.data, what
        seen += 1
    assert seen > 100


def test_a_response_does_show_what_is_inside(app):
    shown = [response for _, response in responses(app, []) if VISIBLE.encode() in response.data]
    assert shown  # the runs page lists the good run's scenario: the check above can fail


def test_a_fifo_manifest_does_not_hang_a_request(app):
    started = time.monotonic()
    for what, response in responses(app, ["fifo", "fifo_table"]):
        assert response.status_code in (200, 204), what
    assert time.monotonic() - started < 10.0


def test_the_runs_page_lists_refusals_with_their_reasons(app):
    client = app.server.test_client()
    route = f"{ids.PAGE}.children"
    page = client.post("/_dash-update-component", json=request_body(app, route, ["/", ""]))
    listed = json.loads(page.data)
    text = json.dumps(listed)
    for name in REFUSED:
        assert f'"data-run": "{name}"' in text and "run-row run-refused" in text
    assert "manifest.json is not a regular file" in text
