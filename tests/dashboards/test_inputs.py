"""The validation of callback inputs, the YAML budget of a run's config, and the reading of
tables known only by their ``.arrow.part`` stream."""

from __future__ import annotations

import json
import math

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from twin.dashboards import inputs
from twin.dashboards.errors import MalformedError
from twin.dashboards.geo import load_yaml, parse_geo
from twin.dashboards.limits import MAX_QUERY_CHARS, MAX_TIME_S
from twin.dashboards.store import RunStore
from twin.dashboards.values import Timeline

from .hostile import read


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), (0, 0.0), (3600, 3600.0), (-5.5, -5.5), (1e308, MAX_TIME_S)],
)
def test_times_are_numbers_bounded(value, expected):
    assert inputs.time_s(value) == expected


@pytest.mark.parametrize("value", ["3600", math.nan, math.inf, True, [1], {"t": 1}, 10**400])
def test_what_is_not_a_time_says_so(value):
    with pytest.raises(inputs.InputError, match="no data at this time"):
        inputs.time_s(value)


def test_a_time_is_clamped_to_the_run():
    timeline = Timeline(600.0, 3600.0, 600.0)
    assert timeline.clamp(-1e12) == 600.0 and timeline.clamp(1e12) == 3600.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3), (3.0, 3), (2.5, 0), (-1, 0), (10**12, 0), ("3", 0), (None, 0), (True, 0)],
)
def test_page_numbers(value, expected):
    assert inputs.integer(value, 0, 10**9, 0) == expected


def test_choices_are_short_strings():
    assert inputs.choices(None, "site") == ()
    assert inputs.choices("north", "site") == ("north",)
    assert inputs.choices(["north", "south"], "site") == ("north", "south")
    for bad in ([1], [None], {"a": 1}, ["x" * 1000], ["n"] * 5000, 3):
        with pytest.raises(inputs.InputError, match="site"):
            inputs.choices(bad, "site")


def test_selections_name_a_site_or_a_link():
    assert inputs.selection("site:north") == ("site", "north")
    assert inputs.selection("link:a~b") == ("link", "a~b")
    assert inputs.selection(None) is None and inputs.selection("") is None
    for bad in ("north", "pop:x", "site:", ["site:north"], {"site": "north"}, "site:" + "x" * 999):
        with pytest.raises(inputs.InputError, match="not found"):
            inputs.selection(bad)


def test_map_clicks():
    def click(customdata):
        return {"points": [{"customdata": customdata}]}

    assert inputs.clicked(click(["site", "north"])) == "site:north"
    assert inputs.clicked(click(["link", "a~b", "extra"])) == "link:a~b"
    for bad in (None, {}, click("ab"), click(["pop", "x"]), click([["site"], "x"]), [1]):
        assert inputs.clicked(bad) is None


def test_filter_queries_are_bounded_text():
    assert inputs.query(None) == "" and inputs.query("{a} > 1") == "{a} > 1"
    with pytest.raises(inputs.InputError, match="too long"):
        inputs.query("x" * (MAX_QUERY_CHARS + 1))
    with pytest.raises(inputs.InputError, match="not text"):
        inputs.query(["{a} > 1"])


def test_sort_specs_keep_known_columns_only():
    kept, ignored = inputs.sort_by(
        [
            {"column_id": "wait_h", "direction": "desc"},
            {"column_id": "nope", "direction": "asc"},
            {"column_id": {"x": 1}, "direction": "asc"},
            "wait_h",
        ],
        {"wait_h", "site"},
    )
    assert kept == [{"column_id": "wait_h", "direction": "desc"}] and len(ignored) == 3
    assert inputs.sort_by({"a": 1}, {"a"}) == ([], ["sort not understood: a dict"])


def test_url_queries():
    assert inputs.query_value("?run=base&run=other", "run") == "base"  # the first
    assert inputs.query_value("?run=%ff%zz", "run") == "\ufffd%zz"  # decoding errors replaced
    assert inputs.query_value("?a=1", "run") is None
    assert inputs.query_value(["?run=x"], "run") is None
    assert inputs.query_value("&".join(f"k{i}=1" for i in range(100)), "run") is None
    assert inputs.url_path(None) == "/" and inputs.url_path({"p": 1}) == "/"


def test_what_is_shown_of_an_input_is_short():
    assert inputs.shown("x" * 10**6).endswith("(1,000,000 characters)")
    assert len(inputs.shown("x" * 10**6)) < 120
    assert inputs.shown([[[]]]) == "a list" and inputs.shown(None) == "None"


# -- the config's YAML budget ---------------------------------------------------------------------


def bomb(levels: int, width: int = 9) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines)


def test_an_alias_bomb_is_refused_by_its_expanded_size():
    assert load_yaml(bomb(3))["l2"][0][0] == ["lol"] * 9  # 9³ leaves: fine
    with pytest.raises(MalformedError, match="aliases expanded"):
        load_yaml(bomb(9))  # 9⁹ leaves: refused before anything is built
    assert load_yaml(bomb(3), max_nodes=925)  # a mapping, 3 keys, 10 + 91 + 820 nodes
    with pytest.raises(MalformedError, match="924 YAML nodes"):
        load_yaml(bomb(3), max_nodes=924)


def test_nesting_is_bounded():
    assert load_yaml("[" * 10 + "]" * 10, max_depth=10) == [[[[[[[[[[]]]]]]]]]]
    with pytest.raises(MalformedError, match="nested deeper than 10"):
        load_yaml("[" * 11 + "]" * 11, max_depth=10)
    with pytest.raises(MalformedError, match="nesting"):  # libyaml's own limit
        load_yaml("[" * 100_000)


@pytest.mark.parametrize(
    "text", ["{not: [yaml", "a: !!python/object:os.system x", "{[1]: 2}", "x: 1\n\tbad"]
)
def test_what_is_not_safe_yaml_is_one_message(text):
    with pytest.raises(MalformedError, match=r"config\.yaml: not valid YAML"):
        load_yaml(text)


def test_geo_skips_entries_it_cannot_place():
    config = {
        "sites": [
            {"id": "ok", "lat": 50, "lon": 10, "pools": [{"count": 8}, {"count": 1e400}]},
            {"id": "nan", "lat": math.nan, "lon": 10},
            {"id": "far", "lat": 95, "lon": 10},
            "not a mapping",
            {"id": ["x"], "lat": 1, "lon": 1},
        ],
        "links": {"not": "a list"},
    }
    geo = parse_geo(config)
    assert [s.id for s in geo.sites] == ["ok"] and geo.sites[0].accelerators == 8
    assert geo.links == ()


# -- tables as .arrow.part streams -----------------------------------------------------------------


def test_a_killed_run_reads_the_whole_batches_of_its_streams(hostile_dir):
    data = RunStore(hostile_dir).get("partial")
    sites = read(hostile_dir / "good" / "sites.arrow")
    rows = len(data.sites)
    assert 0 < rows < sites.num_rows and rows % 50 == 0  # whole batches of 50, the cut one left
    assert data.status == "incomplete" and data.snapshot(3600.0).sites
    assert data.jobs_page(page_size=5)[1] == read(hostile_dir / "good" / "jobs.arrow").num_rows


def test_a_stream_not_yet_written_to_is_an_empty_table(tmp_path, hostile_dir):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(hostile_dir / "good", run)
    (run / "events.arrow").unlink()
    (run / "events.arrow.part").write_bytes(b"")
    (run / "jobs.arrow").rename(run / "jobs.arrow.part")
    jobs = read(hostile_dir / "good" / "jobs.arrow")
    with pa.OSFile(str(run / "jobs.arrow.part"), "wb") as sink, ipc.new_stream(sink, jobs.schema):
        pass  # a schema, no batch yet
    data = RunStore(tmp_path).get("run")
    assert data.run.table("events").num_rows == 0
    assert data.jobs_page()[1] == 0
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete"
