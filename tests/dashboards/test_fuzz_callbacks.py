"""Every server callback of the app, found in ``app.callback_map`` (so a new callback is
fuzzed too), POSTed hostile inputs through Flask's test client over a runs directory of
good, incomplete, broken and escaping runs and sweeps: never a 500, never a traceback in the log,
never a byte from outside the runs directory, never the boundary's last-resort catch."""

from __future__ import annotations

import contextlib
import io
import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twin.dashboards import create_app, ids
from twin.dashboards.guard import request_body, server_callbacks

from .conftest import digest
from .hostile import BROKEN, HOSTILE_CONFIGS, REFUSED, SECRET
from .hostile_sweeps import GOOD_SWEEP, LABELS, SWEEPS

RUNS = ["good", "incomplete", "partial", "fartimes", *BROKEN, *REFUSED, *HOSTILE_CONFIGS]


def nested(depth: int, leaf: object = 1) -> object:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


SPECIAL: list[object] = [
    None,
    "",
    0,
    -1,
    2.5,
    1e308,
    -1e308,
    float("nan"),
    float("inf"),
    float("-inf"),
    True,
    2**63,
    -(2**63),
    10**400,
    "0",
    "nan",
    "../x",
    "../../../etc/passwd",
    "/etc/passwd",
    "good/../../x",
    "a\x00b",
    "x" * 1_000_000,
    "%zz%ff",
    "?run=%ff&run=good&run=..%2f..&a=%00",
    "?sweep=sweep_link&metric=%ff&x=../x&line=" + "y" * 5000,
    "good/points/x",
    "é😀\u202e",
    ":",
    "site:",
    "site:north",
    "site:nowhere",
    "link:north~pop_x",
    "link:" + "x" * 300,
    "{wait_h} > 1 && {x} bogus 2 && {site} contains " + "a" * 5000,
    "{" * 10_000,
    [],
    [None],
    ["north"] * 2000,
    [{"column_id": "wait_h", "direction": "desc"}],
    [{"column_id": {"a": 1}, "direction": 5}],
    {},
    {"a": {"b": {"c": [1, 2, {"d": None}]}}},
    {"points": [{"customdata": ["site", "north"]}]},
    {"points": [{"customdata": "ab"}]},
    {"points": [{"customdata": [["site"], {"x": 1}]}]},
    nested(200),
]
"""What a hostile client may send for any input (beside the run names)."""

SENSIBLE = {
    "pathname": "/replay",
    "search": "?run=good",
    "n_clicks": 1,
    "n_intervals": 3,
    "filter_query": "",
    "sort_by": [{"column_id": "wait_h", "direction": "desc"}],
    "page_current": 0,
    "page_size": 20,
    "clickData": {"points": [{"customdata": ["site", "north"]}]},
}
RUN_INPUTS = {ids.REPLAY_RUN, ids.EXPLORE_RUN, ids.COMPARE_A, ids.COMPARE_B}
SWEEP_INPUTS = {ids.SWEEP_PICK}
SWEEP_SENSIBLE = {
    ids.SWEEP_PICK: GOOD_SWEEP,
    ids.SWEEP_METRIC: "co2_t",
    ids.SWEEP_X: "policies.placement",
    ids.SWEEP_LINE: None,
    ids.SWEEP_A: digest(LABELS[0]),
    ids.SWEEP_B: digest(LABELS[1]),
}


def sensible(dependency: dict) -> object:
    """What the browser would send for one input, on the good run."""
    id_, prop = dependency["id"], dependency["property"]
    if id_ in RUN_INPUTS:
        return "good"
    if id_ == ids.REPLAY_SELECT:
        return "site:north"
    if id_ in SWEEP_SENSIBLE:
        return SWEEP_SENSIBLE[id_]
    if prop in ("value", "min", "max", "step") and "slider" in id_:
        return {"value": 3600.0, "min": 600.0, "max": 21600.0, "step": 600.0}[prop]
    if prop == "value" and "speed" in id_:
        return 4
    if prop == "value":  # the jobs filters
        return None
    return SENSIBLE.get(prop)


class Problems(logging.Handler):
    """Log records that are tracebacks, errors, or the boundary's last-resort catch."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR or "unexpectedly" in record.msg:
            self.records.append(f"{record.name}: {record.getMessage()[:300]}")


@contextlib.contextmanager
def watched():
    """Collect problem log records and stderr while requests run."""
    problems, stderr = Problems(), io.StringIO()
    root = logging.getLogger()
    root.addHandler(problems)
    try:
        with contextlib.redirect_stderr(stderr):
            yield problems
    finally:
        root.removeHandler(problems)
    assert not problems.records, problems.records[:5]
    assert "Traceback" not in stderr.getvalue(), stderr.getvalue()[-2000:]


@pytest.fixture(scope="module")
def app(hostile_dir):
    return create_app(hostile_dir)


@pytest.fixture(scope="module")
def callbacks(app):
    found = server_callbacks(app)
    assert len(found) >= 18  # pages, players and sweeps: every one is fuzzed below
    return found


def post(app, output: str, values: list) -> object:
    body = request_body(app, output, values)
    response = app.server.test_client().post("/_dash-update-component", json=body)
    assert response.status_code in (200, 204), (output, values, response.data[:500])
    assert SECRET.encode() not in response.data, (output, values)
    return response


def test_every_callback_answers_every_run(app, callbacks):
    with watched():
        for names, named in ((RUNS, RUN_INPUTS), (SWEEPS, SWEEP_INPUTS)):
            for name in names:
                for output, spec in callbacks.items():
                    deps = [*spec["inputs"], *spec["state"]]
                    values = [name if d["id"] in named else sensible(d) for d in deps]
                    post(app, output, values)


def test_every_input_of_every_callback_survives_special_values(app, callbacks):
    sent = 0
    with watched():
        for output, spec in callbacks.items():
            deps = [*spec["inputs"], *spec["state"]]
            for position, dependency in enumerate(deps):
                hostile = SPECIAL + (RUNS if dependency["id"] in RUN_INPUTS else [])
                hostile += SWEEPS if dependency["id"] in SWEEP_INPUTS else []
                for value in hostile:
                    values = [sensible(d) for d in deps]
                    values[position] = value
                    post(app, output, values)
                    sent += 1
    assert sent > 1000


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
inputs_values = (
    st.sampled_from(SPECIAL) | st.sampled_from(RUNS) | st.sampled_from(SWEEPS) | json_values
)


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_callbacks_survive_generated_inputs(app, callbacks, data):
    output = data.draw(st.sampled_from(sorted(callbacks)), label="callback")
    spec = callbacks[output]
    deps = [*spec["inputs"], *spec["state"]]
    values = [data.draw(inputs_values, label=d["property"]) for d in deps]
    with watched():
        post(app, output, values)


MALFORMED = [
    b"not json",
    b"[]",
    b'"a string"',
    b"{}",
    json.dumps({"output": "no-such.thing", "inputs": []}).encode(),
    json.dumps({"output": f"{ids.PAGE}.children", "inputs": "x"}).encode(),
    json.dumps({"output": f"{ids.PAGE}.children", "inputs": [{"id": "url"}]}).encode(),
    json.dumps({"output": f"{ids.PAGE}.children", "inputs": [1, 2]}).encode(),
    json.dumps({"output": ["a"], "inputs": []}).encode(),
    b'{"output": ' * 100_000,
    b"[" * 100_000 + b"]" * 100_000,
]


@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_requests_get_a_4xx_not_a_500(app, body):
    with watched():
        response = app.server.test_client().post(
            "/_dash-update-component", data=body, content_type="application/json"
        )
    assert 400 <= response.status_code < 500, response.data[:300]


def test_a_request_body_above_the_bound_gets_413(app):
    body = json.dumps({"output": f"{ids.PAGE}.children", "junk": "x" * 20_000_000})
    with watched():
        response = app.server.test_client().post(
            "/_dash-update-component", data=body, content_type="application/json"
        )
    assert response.status_code == 413


def test_the_boundary_answers_an_unexpected_error_visibly(caplog):
    """The last resort, shown working: an error no validation foresaw becomes a message in
    the page and one log line, not a 500 and a traceback."""
    from dash import Dash, Input, Output, dcc, html
    from twin.dashboards import guard

    probe = Dash(__name__)
    probe.layout = html.Div([dcc.Input(id="in"), html.Div(id="out"), dcc.Graph(id="graph")])
    guard.install(probe)

    @guard.callback(
        probe, Output("out", "children"), Output("graph", "figure"), Input("in", "value")
    )
    def broken(value):
        return 1 / 0

    body = request_body(probe, "..out.children...graph.figure..", ["x"])
    with caplog.at_level(logging.WARNING, logger="twin.dashboards"):
        response = probe.server.test_client().post("/_dash-update-component", json=body)
    assert response.status_code == 200
    answer = json.loads(response.data)["response"]
    assert "not readable: ZeroDivisionError" in json.dumps(answer["out"])
    assert "not readable: ZeroDivisionError" in json.dumps(answer["graph"])
    [record] = [r for r in caplog.records if "unexpectedly" in r.msg]
    assert record.exc_info is None and "broken" in record.getMessage()
