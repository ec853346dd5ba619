"""Replay's inference panels of a site: each service as its SLOs define it (TTFT and TPOT of
an llm service, end-to-end latency of a single one), p50 and p99 of each hour's requests
read from the windows' sketches, the SLO threshold as a dotted line, one y axis per panel
(log when the values span more than a decade); runs without sketches keep the window
percentiles, still per service. And the same in a real browser."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from twin.dashboards import figures, ids
from twin.dashboards.latency import LABELS
from twin.dashboards.pages.replay import series_frame
from twin.dashboards.store import RunStore

from twin.trace import sketches
from twin.trace.reader import open_run

from .conftest import Kit, write_arrow
from .test_browser import pytestmark as browser_marks
from .test_browser import serve, severe_logs, snap, wait

SLO = {"chat": {"ttft_s": 2.0, "tpot_s": 0.05}, "svc": {"latency_s": 0.1}}
"""The configured objectives (the chat service's in seconds, the single one's in ms)."""
METRICS = {"chat": ("ttft", "tpot"), "svc": ("latency",)}
HOURS = (0.0, 3600.0, 7200.0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``two``: an llm service at sites a and b and a single one at a, the last hour cut
    short; ``old``: the same without its sketch columns (a run written before them)."""
    root = tmp_path_factory.mktemp("service-runs")
    data = Kit.scenario(
        [Kit.site("a", 16), Kit.site("b", 16, lat=45.0, lon=5.0)],
        [Kit.region("r"), Kit.region("s", lat=45.0, lon=5.0)],
        [
            Kit.llm(
                peak_rps=0.5,
                replicas={"a": 1, "b": 1},
                output={"dist": "constant", "value": 40},
                slo=SLO["chat"],
            ),
            Kit.single(peak_rps=5.0, replicas={"a": 1}, slo=SLO["svc"]),
        ],
        horizon=3 * 3600.0 - 600.0,  # the last hour is cut short
        window=30.0,
    )
    Kit.run_trace(data, root / "two")
    shutil.copytree(root / "two", root / "old")
    table = open_run(root / "old").table("inference")
    kept = [name for name in table.column_names if "_sketch_" not in name]
    write_arrow(root / "old" / "inference.arrow", table.select(kept))
    return root


def title(service: str, metric: str, per: str = "each hour's requests") -> str:
    return f"{service}: {LABELS[metric]} (ms), {per}"


def inference_panels(runs: Path, run: str, site: str) -> dict:
    panels = RunStore(runs).get(run).site_series(site)
    return {p.title: p for p in panels if p.title.startswith(("chat:", "svc:"))}


def test_each_service_has_a_panel_per_slo_metric(runs: Path) -> None:
    at_a = inference_panels(runs, "two", "a")
    assert list(at_a) == [title(s, m) for s in ("chat", "svc") for m in METRICS[s]]
    assert list(inference_panels(runs, "two", "b")) == [title("chat", m) for m in METRICS["chat"]]
    panels = RunStore(runs).get("two").site_series("a")
    assert [p.title for p in panels][-1] == "SLO misses"
    assert not any("inference p99 latency" in p.title for p in panels)


@pytest.mark.parametrize("site", ["a", "b"])
def test_each_hours_percentiles_are_the_merged_sketches_of_its_windows(
    runs: Path, site: str
) -> None:
    for (service, metric), panel in _by_metric(inference_panels(runs, "two", site)).items():
        lines = {line.name: line for line in panel.lines}
        for name, q in (("p50", 50.0), ("p99", 99.0)):
            np.testing.assert_array_equal(lines[name].x, [3600.0, 7200.0, 10800.0])
            expected = [
                sketches.percentiles_ms(runs / "two", metric, [q], service, [site], lo, lo + 3600)[
                    0
                ]
                for lo in HOURS
            ]
            assert None not in expected
            np.testing.assert_allclose(lines[name].y, expected, rtol=1e-12)
        assert np.all(lines["p50"].y <= lines["p99"].y)


def test_the_threshold_is_the_configured_slo_as_a_dotted_line(runs: Path) -> None:
    for (service, metric), panel in _by_metric(inference_panels(runs, "two", "a")).items():
        threshold_ms = SLO[service][f"{metric}_s"] * 1000
        (slo,) = [line for line in panel.lines if line.name.startswith("SLO ")]
        assert slo.dash == "dot"
        np.testing.assert_array_equal(slo.y, [threshold_ms, threshold_ms])
        xs = np.concatenate([line.x for line in panel.lines if line is not slo])
        assert slo.x[0] <= xs.min() and slo.x[-1] >= xs.max()
        shown = threshold_ms / 1000 if threshold_ms >= 1000 else threshold_ms
        assert slo.name == f"SLO {shown:g} {'s' if threshold_ms >= 1000 else 'ms'}"


def test_each_panel_has_its_own_axis_log_when_it_spans_more_than_a_decade(runs: Path) -> None:
    data = RunStore(runs).get("two")
    panels = [p for p in data.site_series("a") if p.lines]
    figure = figures.series_figure(panels, start=data.start)
    layout = figure["layout"]
    axes = {}
    for index, panel in enumerate(panels):
        axis = "y" if index == 0 else f"y{index + 1}"
        traces = [t for t in figure["data"] if t["yaxis"] == axis]
        assert [t["name"] for t in traces] == [line.name for line in panel.lines]
        axes[panel.title] = layout[f"yaxis{axis[1:]}"]
    logged = {}
    for (service, metric), panel in _by_metric(inference_panels(runs, "two", "a")).items():
        values = [
            v
            for lo in HOURS
            for v in sketches.percentiles_ms(
                runs / "two", metric, [50.0, 99.0], service, ["a"], lo, lo + 3600
            )
        ]
        values.append(SLO[service][f"{metric}_s"] * 1000)
        wanted = max(values) / min(values) > 10
        logged[(service, metric)] = wanted
        assert (axes[panel.title].get("type") == "log") == wanted, panel.title
        assert panel.log_y == wanted
    # this run has both kinds of panel (chat's TTFT far under its 2 s SLO; the rest close)
    assert set(logged.values()) == {True, False}
    # the single service's axis is its own, not the llm's
    assert len({id(axes[title(s, m)]) for s in METRICS for m in METRICS[s]}) == 3


def test_a_run_without_sketches_keeps_the_window_percentiles_per_service(runs: Path) -> None:
    panels = inference_panels(runs, "old", "a")
    per = "each window's percentiles"
    assert list(panels) == [title(s, m, per) for s in ("chat", "svc") for m in METRICS[s]]
    table = open_run(runs / "old").table("inference").to_pandas()
    for (service, metric), panel in _by_metric(panels).items():
        mine = table[(table.site == "a") & (table.service == service)].sort_values("time_s")
        lines = {line.name: line for line in panel.lines}
        for q in ("p50", "p99"):
            column = mine[f"{metric}_{q}_ms"]
            np.testing.assert_array_equal(lines[q].x, mine.time_s.to_numpy())
            np.testing.assert_array_equal(lines[q].y, column.to_numpy(dtype=float))
        (slo,) = [line for line in panel.lines if line.name.startswith("SLO ")]
        assert slo.y[0] == SLO[service][f"{metric}_s"] * 1000


def _by_metric(panels: dict) -> dict:
    """``{(service, metric): panel}`` of panels titled by :func:`title`."""
    out = {}
    for service, metrics in METRICS.items():
        for metric in metrics:
            found = [p for t, p in panels.items() if t.startswith(f"{service}: {LABELS[metric]}")]
            if found:
                (out[(service, metric)],) = found
    assert out
    return out


AXES_JS = """
const graph = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
if (!graph || !graph.data || !graph._fullLayout) { return null; }
const full = graph._fullLayout;
const axes = {};
for (const key of Object.keys(full)) {
    if (/^yaxis[0-9]*$/.test(key)) {
        axes[key] = {type: full[key].type, range: Array.from(full[key].range)};
    }
}
return {
    subplots: (graph.layout.annotations || []).map(a => a.text),
    traces: graph.data.map(t => ({name: t.name, yaxis: t.yaxis, y: Array.from(t.y || [])})),
    axes: axes,
};
"""


@browser_marks[1]
def test_replay_draws_each_service_on_its_own_axis_in_a_browser(dash_duo, runs, screenshots):
    serve(dash_duo, runs, "/replay?run=two")
    dash_duo.select_dcc_dropdown(f"#{ids.REPLAY_SELECT}", value="factory · a")

    def shown() -> dict | None:
        seen = dash_duo.driver.execute_script(AXES_JS, ids.REPLAY_SERIES)
        return seen if seen and title("svc", "latency") in seen["subplots"] else None

    wait(shown, timeout=20, message="the services' panels")
    seen = shown()
    assert seen is not None
    subplots = seen["subplots"]  # the panels' titles, top to bottom
    for service, metrics in METRICS.items():
        for metric in metrics:
            assert title(service, metric) in subplots
    assert len(seen["axes"]) == len(subplots)  # one y axis per panel

    def axis_of(panel: str) -> tuple[dict, list[dict]]:
        index = subplots.index(panel)
        name = "y" if index == 0 else f"y{index + 1}"
        return seen["axes"][f"yaxis{name[1:]}"], [t for t in seen["traces"] if t["yaxis"] == name]

    svc_axis, svc_traces = axis_of(title("svc", "latency"))
    chat_axis, chat_traces = axis_of(title("chat", "ttft"))
    assert {t["name"] for t in svc_traces} == {"p50", "p99", "SLO 100 ms"}
    assert {t["name"] for t in chat_traces} == {"p50", "p99", "SLO 2 s"}
    assert svc_axis["range"] != chat_axis["range"]

    def spread(axis: dict, traces: list[dict]) -> float:
        """How much of its axis a panel's percentile lines span (in the axis' units)."""
        values = [v for t in traces if t["name"] in ("p50", "p99") for v in t["y"] if v]
        scale = np.log10 if axis["type"] == "log" else np.asarray
        low, high = scale(min(values)), scale(max(values))
        return float((high - low) / (axis["range"][1] - axis["range"][0]))

    # on a shared linear axis up to chat's 2 s, svc's 15-100 ms would be a flat line
    assert spread(svc_axis, svc_traces) > 0.3
    assert spread(chat_axis, chat_traces) > 0.05
    assert svc_axis["range"][1] < (np.log10(2000) if svc_axis["type"] == "log" else 2000)
    dash_duo.find_element("h2").click()  # the dropdown closed
    snap(dash_duo, screenshots, "replay-services")
    assert not severe_logs(dash_duo)


def test_the_series_frame_is_what_the_page_serves(runs: Path) -> None:
    store = RunStore(runs)
    figure = series_frame(store, "two", "site:a", 0)
    names = [a["text"] for a in figure["layout"]["annotations"]]
    assert title("svc", "latency") in names and title("chat", "tpot") in names
