"""The Sweeps page without a browser: a sweep of real tiny runs read from its ``sweep.arrow``,
its error bars equal to Student-t intervals computed independently from the point runs,
numeric parameters sorted as numbers, failed points marked, broken sweep files shown as
such, and nothing outside the runs directory read or linked."""

from __future__ import annotations

import json
import math
import os
import shutil
from urllib.parse import parse_qs, urlparse

import plotly.graph_objects as go
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from twin.dashboards import create_app, ids
from twin.dashboards.components import Context
from twin.dashboards.errors import RunAccessError, RunError
from twin.dashboards.guard import request_body, server_callbacks
from twin.dashboards.pages import runs, sweeps
from twin.dashboards.store import RunStore
from twin.dashboards.sweeps import FIXED, METRIC, PARAM, load_sweep, parse_sweep, sweep_info

from twin.analysis import measure
from twin.analysis.stats import mean_interval, paired_difference

from .conftest import SWEEP_METRICS, SWEEP_PARAMS, SWEEP_SEEDS, point_row, write_sweep
from .hostile import SECRET
from .hostile_sweeps import GOOD_SWEEP, SWEEP_BROKEN, SWEEP_REFUSED

PLACEMENT, RATE = SWEEP_PARAMS


@pytest.fixture(scope="module")
def store(sweep_dir):
    return RunStore(sweep_dir)


@pytest.fixture(scope="module")
def context(store):
    return Context(store, href=lambda path: path)


@pytest.fixture(scope="module")
def table(sweep_dir):
    with pa.memory_map(str(sweep_dir / "grid" / "sweep.arrow")) as source:
        return ipc.open_file(source).read_all()


def test_the_layout_read_is_the_sweep_engines():
    from twin.sweep import table

    assert (PARAM, METRIC) == (table.PARAM, table.METRIC)
    assert list(FIXED) == [field.name for field in table.FIXED]


# -- aggregation ---------------------------------------------------------------------------------


def test_error_bars_are_student_t_over_the_seeds_of_each_configuration(store, sweep_dir, table):
    """Means and bands equal mean_interval of each configuration's per-seed values, measured
    again here from the points' run directories (not from sweep.arrow)."""
    per_config: dict[tuple[str, str], dict[str, list[float]]] = {}
    for row in table.to_pylist():
        if row["status"] != "complete":
            continue
        values = measure(sweep_dir / "grid" / row["run"], list(SWEEP_METRICS))
        key = (row[PARAM + PLACEMENT], row[PARAM + RATE])
        for metric, value in values.items():
            per_config.setdefault(key, {}).setdefault(metric, []).append(value)
    sweep = load_sweep(store, "grid")
    checked = 0
    for metric in SWEEP_METRICS:
        chosen = sweep.bands(metric, RATE, PLACEMENT)
        assert [band.name for band in chosen.bands] == [
            f"{PLACEMENT}=least_loaded",
            f"{PLACEMENT}=lowest_carbon",
        ]
        for band in chosen.bands:
            placement = band.name.split("=", 1)[1]
            for x, mean, low, high, n in zip(
                band.x, band.mean, band.low, band.high, band.n, strict=True
            ):
                expected = mean_interval(per_config[(placement, f"{x:g}")][metric])
                assert n == expected.n == len(SWEEP_SEEDS)
                assert mean == pytest.approx(expected.mean, rel=1e-12, abs=1e-15)
                if math.isnan(expected.half_width):
                    assert math.isnan(low) and math.isnan(high)
                else:
                    assert low == pytest.approx(expected.low, rel=1e-12, abs=1e-15)
                    assert high == pytest.approx(expected.high, rel=1e-12, abs=1e-15)
                checked += 1
    assert checked == len(SWEEP_METRICS) * 4
    co2 = sweep.bands("co2_t", RATE, PLACEMENT).bands[0]
    assert all(high > low for low, high in zip(co2.low, co2.high, strict=True))  # seeds differ


def test_a_failed_point_is_counted_but_not_averaged(store):
    sweep = load_sweep(store, "grid")
    band = sweep.bands("co2_t", RATE, PLACEMENT).bands[0]
    assert band.x == [400.0, 1200.0]
    assert band.n == [3, 3] and band.points == [3, 4]  # least_loaded at 1200 has a failed seed 4
    assert sweep.status == "incomplete"
    assert sweep_info(store, "grid").problem == "1 of 13 points not complete"


def test_numeric_parameters_sort_as_numbers_others_keep_the_files_order(store):
    sweep = load_sweep(store, "grid")
    assert sweep.order(RATE) == ["400", "1200"]  # the file has 1200 first
    assert sweep.order(PLACEMENT) == ["least_loaded", "lowest_carbon"]
    values = ["64", "8", "1e3", "16", "2.5"]
    rows = [point_row(f"x={v}", 1, {"x": v, "m": float(i)}) for i, v in enumerate(values)]
    assert _parsed(rows, ["x"]).order("x") == ["2.5", "8", "16", "64", "1e3"]
    mixed = [point_row(f"x={v}", 1, {"x": v, "m": 1.0}) for v in ("8", "auto", "2")]
    parsed = _parsed(mixed, ["x"])
    assert parsed.order("x") == ["8", "auto", "2"] and not parsed.numeric("x")
    chosen = parsed.bands("m", "x")
    assert chosen.bands[0].x == ["8", "auto", "2"] and not chosen.numeric


def test_other_parameters_are_held_at_one_value_never_pooled(store):
    sweep = load_sweep(store, "grid")
    chosen = sweep.bands("co2_t", RATE)  # no line parameter: placement held
    assert chosen.held == {PLACEMENT: "least_loaded"}
    assert [band.configs for band in chosen.bands] == [
        sweep.bands("co2_t", RATE, PLACEMENT).bands[0].configs
    ]


def _parsed(rows, params, metrics=("m",)):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        write_sweep(Path(folder), rows, params, metrics)
        with pa.memory_map(str(Path(folder) / "sweep.arrow")) as source:
            return parse_sweep("s", ipc.open_file(source).read_all())


# -- the page's functions ------------------------------------------------------------------------


def test_choosing_a_sweep_fills_the_pickers_and_the_points_table(context, store):
    frame = sweeps.sweep_frame(context, "grid", None, None, None, None, None)
    status, metrics, metric, params, x, _, line, held, hold, configs, a, _, b, columns, rows = frame
    assert f"{RATE}=400" in [h["value"] for h in held] and hold == []
    assert "13 points, 4 configurations" in json.dumps(status, default=str)
    assert metric == SWEEP_METRICS[0] and x == PLACEMENT and line == RATE
    assert metrics[0]["label"] == "co2_t (t, lower is better)"
    assert [p["value"] for p in params] == list(SWEEP_PARAMS)
    assert len(configs) == 4 and a != b
    assert len(rows) == 13 and [c["name"] for c in columns][:3] == ["run", *SWEEP_PARAMS]
    failed = [row for row in rows if row["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["reason"] == "MemoryError"
    assert all(failed[0][f"m{i}"] is None for i in range(len(SWEEP_METRICS)))
    for row in rows:  # each row links to its point's run in Replay, which opens it
        href = row["run"].removeprefix("[replay](").removesuffix(")")
        assert urlparse(href).path == "/replay"
        run = parse_qs(urlparse(href).query)["run"][0]
        assert run.startswith("grid/points/")
        if row["status"] == "complete":
            assert store.get(run).status == "complete"
    # valid choices are kept (a URL's ?metric=&x=&line=)
    kept = sweeps.sweep_frame(context, "grid", "jobs.completed", RATE, PLACEMENT, b, a)
    assert kept[2] == "jobs.completed" and kept[4] == RATE and kept[6] == PLACEMENT
    assert (kept[10], kept[12]) == (b, a)


def test_the_figure_has_a_shaded_band_and_a_mean_line_per_value(store):
    figure, note = sweeps.figure_frame(store, "grid", "co2_t", RATE, PLACEMENT)
    go.Figure(figure)  # a valid plotly figure
    assert sweeps.figure_frame(store, "grid", "co2_t", RATE, PLACEMENT)[0] is figure  # cached
    fills = [t for t in figure["data"] if t.get("fill") == "tonexty"]
    means = [t for t in figure["data"] if t.get("mode") == "lines+markers"]
    assert len(fills) == len(means) == 2
    assert all(t["fillcolor"].startswith("rgba(") for t in fills)
    assert means[0]["x"] == [400.0, 1200.0]
    assert "co2_t: t, lower is better" in note[0]
    _, held = sweeps.figure_frame(store, "grid", "co2_t", RATE, None)
    assert "Held at: policies.placement=least_loaded" in held[1]
    figure, held = sweeps.figure_frame(
        store, "grid", "co2_t", RATE, None, [f"{PLACEMENT}=lowest_carbon"]
    )
    assert "Held at: policies.placement=lowest_carbon" in held[1]
    carbon = sweeps.figure_frame(store, "grid", "co2_t", RATE, PLACEMENT)[0]["data"][5]
    assert figure["data"][2]["y"] == carbon["y"]  # the lowest_carbon line of the full figure
    for hold in ([f"{PLACEMENT}=nowhere"], ["nope"], [f"{RATE}"], {"a": 1}, ["x"] * 2000):
        blank, _ = sweeps.figure_frame(store, "grid", "co2_t", RATE, None, hold)
        text = blank["layout"]["annotations"][0]["text"]
        assert "not found" in text or "not a held value" in text, text
    for bad in ({"x": 1}, "nope", "../etc"):
        figure, _ = sweeps.figure_frame(store, "grid", bad, RATE, None)
        assert "not found" in figure["layout"]["annotations"][0]["text"]


def test_clicking_a_mean_links_to_its_configurations_runs(context, store):
    figure, _ = sweeps.figure_frame(store, "grid", "co2_t", RATE, PLACEMENT)
    mean = next(t for t in figure["data"] if t.get("mode") == "lines+markers")
    click = {"points": [{"customdata": mean["customdata"][1]}]}  # least_loaded at 1200
    links = sweeps.clicked_frame(context, "grid", click)
    hrefs = [c.href for c in links if hasattr(c, "href")]
    texts = [c.children for c in links if hasattr(c, "href")]
    assert texts == ["seed 1", "seed 2", "seed 3", "seed 4 (failed)"]
    config = load_sweep(store, "grid").configurations[mean["customdata"][1][4]]
    assert hrefs == [context.link("/replay", run=p.run) for p in config.points]
    assert config.params == {PLACEMENT: "least_loaded", RATE: "1200"}
    for bad in (None, {"points": []}, {"points": [{"customdata": "abcde"}]}, "x", [1]):
        assert sweeps.clicked_frame(context, "grid", bad).startswith("click a mean")


def test_two_configurations_pair_over_common_seeds_and_open_in_compare(context, store):
    sweep = load_sweep(store, "grid")
    a, b = list(sweep.configurations)[:2]
    children = sweeps.pair_frame(context, "grid", a, b)
    text = json.dumps(children, default=lambda c: c.to_plotly_json())
    link = children[0].children[0]
    query = parse_qs(urlparse(link.href).query)
    assert urlparse(link.href).path == "/compare"
    assert query["a"] == [sweep.run_of(a, 1)] and query["b"] == [sweep.run_of(b, 1)]
    assert "open seed 1 of both in Compare" in text
    values_a = sweep.configurations[a].values("co2_t")
    values_b = sweep.configurations[b].values("co2_t")
    assert sorted(values_a) == [1, 2, 3]  # seed 4 failed: not paired
    assert sweep.paired(a, b, "co2_t") == paired_difference(values_a, values_b)
    assert '"data-metric": "co2_t"' in text
    same = sweeps.pair_frame(context, "grid", a, a)
    assert "two different configurations" in json.dumps(same.to_plotly_json())


def test_the_runs_page_lists_a_sweep_once_not_its_points(context, store):
    assert store.names() == ["base"] and store.sweep_names() == ["grid"]
    page = json.dumps(runs.layout(context).to_plotly_json(), default=lambda c: c.to_plotly_json())
    assert page.count('"data-sweep"') == 1 and page.count('"data-run"') == 1
    assert "/sweeps?sweep=grid" in page and "points/" not in page


def test_a_sweep_is_read_again_only_when_its_file_changed(tmp_path, sweep_dir):
    shutil.copytree(sweep_dir / "grid", tmp_path / "grid", symlinks=True)
    store = RunStore(tmp_path)
    first = load_sweep(store, "grid")
    assert load_sweep(store, "grid") is first
    table_path = tmp_path / "grid" / "sweep.arrow"
    table = ipc.open_file(pa.memory_map(str(table_path))).read_all().slice(0, 3)
    with (
        pa.OSFile(str(table_path.with_suffix(".tmp")), "wb") as sink,
        ipc.new_file(sink, table.schema) as writer,
    ):
        writer.write_table(table)
    os.replace(table_path.with_suffix(".tmp"), table_path)
    again = load_sweep(store, "grid")
    assert again is not first and len(again.points) == 3


def test_concurrent_requests_share_one_parsed_sweep(tmp_path, sweep_dir):
    from .test_concurrency import together

    shutil.copytree(sweep_dir / "grid", tmp_path / "grid", symlinks=True)
    store = RunStore(tmp_path)
    found = together(lambda: load_sweep(store, "grid"))
    assert all(sweep is found[0] for sweep in found) and len(found[0].points) == 13


# -- broken and hostile sweeps --------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_store(hostile_dir):
    return RunStore(hostile_dir)


@pytest.mark.parametrize(("name", "word"), sorted(SWEEP_BROKEN.items()))
def test_a_malformed_sweep_says_what_is_wrong(hostile_store, name, word):
    info = sweep_info(hostile_store, name)
    assert info.status == "malformed" and word in info.problem, info
    assert "sweep.arrow" in info.problem
    figure, _ = sweeps.figure_frame(hostile_store, name, "co2_t", "policies.placement", None)
    assert "malformed" in figure["layout"]["annotations"][0]["text"]


@pytest.mark.parametrize(("name", "word"), sorted(SWEEP_REFUSED.items()))
def test_a_sweep_leading_outside_the_runs_directory_is_refused(hostile_store, name, word):
    info = sweep_info(hostile_store, name)
    assert info.status == "refused" and word in info.problem, info
    assert SECRET not in repr(info)
    with pytest.raises(RunAccessError):
        load_sweep(hostile_store, name)


@pytest.mark.parametrize(
    "name",
    [
        "grid/other/x",
        "grid/points/../../outside",
        "grid/points/a/b",
        "grid/points/",
        "/etc/points/x",
        "../grid/points/x",
        "grid//x",
        "grid/points/..",
    ],
)
def test_only_points_of_a_sweep_open_as_nested_runs(store, name):
    with pytest.raises(RunAccessError):
        store.resolve(name)


def test_a_point_linked_outside_is_refused_in_replay_too(hostile_store):
    sweep = load_sweep(hostile_store, GOOD_SWEEP)
    assert hostile_store.get(sweep.points[0].run).status == "complete"
    with pytest.raises(RunError):
        hostile_store.get("sweep_symlink/" + sweep.points[0].run.split("/", 1)[1])


def test_no_sweeps_response_holds_anything_from_outside(hostile_dir):
    app = create_app(hostile_dir)
    client = app.server.test_client()
    route = f"{ids.PAGE}.children"
    names = [GOOD_SWEEP, *SWEEP_BROKEN, *SWEEP_REFUSED]
    callbacks = [key for key in server_callbacks(app) if "sweep-" in key]
    assert len(callbacks) == 4
    seen = b""
    for search in ["", *(f"?sweep={name}" for name in names)]:
        body = request_body(app, route, ["/sweeps", search])
        seen += client.post("/_dash-update-component", json=body).data
    seen += client.post("/_dash-update-component", json=request_body(app, route, ["/", ""])).data
    for name in names:
        for output in callbacks:
            deps = [*app.callback_map[output]["inputs"], *app.callback_map[output]["state"]]
            values = [name if d["id"] == ids.SWEEP_PICK else None for d in deps]
            response = client.post(
                "/_dash-update-component", json=request_body(app, output, values)
            )
            assert response.status_code == 200, (name, output)
            seen += response.data
    assert SECRET.encode() not in seen
    assert b"sweep_symlink" in seen and b"resolves outside" in seen  # the check above can fail


# -- a sweep written by `twin sweep` -------------------------------------------------------------

SWEEP_FILE = """\
scenario: tiny
horizon: 1h
grid:
  policies.placement: [least_loaded, lowest_carbon]
seeds: 2
metrics: [co2_t, jobs.completed]
"""


def test_a_sweep_written_by_twin_sweep_opens_with_its_points(tmp_path):
    """``twin sweep`` writes the sweep. Its points are simulated here first, into the
    catalogue the engine uses, so that the command only measures them and writes
    ``sweep.arrow`` (a re-run over the sweep's own folder starts no Dask cluster)."""
    from click.testing import CliRunner

    from twin.cli import main
    from twin.simulation import simulate
    from twin.sweep.catalogue import Catalogue
    from twin.sweep.points import expand
    from twin.sweep.spec import read_sweep

    (tmp_path / "tiny.yaml").write_text(SWEEP_FILE)
    out = tmp_path / "runs" / "policies"
    plan = expand(read_sweep(tmp_path / "tiny.yaml"))
    catalogue = Catalogue.of_sweep(out)
    for point in plan.points:
        simulate(point.scenario, out=catalogue.run_dir(point))
    (out / "sweep.yaml").write_text(SWEEP_FILE)  # the folder is this sweep's own
    result = CliRunner().invoke(main, ["sweep", str(tmp_path / "tiny.yaml"), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output

    store = RunStore(tmp_path / "runs")
    assert store.sweep_names() == ["policies"] and store.names() == []
    sweep = load_sweep(store, "policies")
    assert sweep.params == ("policies.placement",)
    assert sweep.metrics == ("co2_t", "jobs.completed")
    assert sweep.status == "complete" and len(sweep.configurations) == 2
    for point in sweep.points:
        assert store.get(point.run).status == "complete"
    figure, _ = sweeps.figure_frame(store, "policies", "co2_t", "policies.placement", None)
    mean = next(t for t in figure["data"] if t.get("mode") == "lines+markers")
    assert mean["x"] == ["least_loaded", "lowest_carbon"]
    first = sweep.configurations[sweep.points[0].config]
    assert mean["y"][0] == pytest.approx(mean_interval(list(first.values("co2_t").values())).mean)
