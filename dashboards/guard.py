"""The dashboard's boundary with the network: no request gets a 500 or a traceback.

- :func:`install` checks the envelope of every callback request before Dash reads it (a JSON
  object naming a callback of this app, with that callback's inputs and state, a bounded
  body): a malformed one gets a 400 with one line saying why, instead of an exception
  inside Dash.
- :func:`callback` registers a page's callback like ``app.callback`` and wraps it: the
  callbacks validate their inputs themselves (:mod:`twin.dashboards.inputs`) and show what
  goes wrong with a run; anything still raised is caught here, logged in one line (no
  traceback) and answered with a visible "not readable" state in each output.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from dash import Dash, Output, no_update
from dash.exceptions import PreventUpdate
from twin.dashboards import figures
from twin.dashboards.components import message
from twin.dashboards.limits import MAX_REQUEST_BYTES

LOG = logging.getLogger("twin.dashboards")
UPDATE_ROUTE = "_dash-update-component"


def callback(app: Dash, *dependencies: Any, **options: Any) -> Callable[[Callable], Callable]:
    """``app.callback(*dependencies, **options)``, with the boundary of the module doc."""
    outputs = [d for d in dependencies if isinstance(d, Output)]

    def register(function: Callable) -> Callable:
        @functools.wraps(function)
        def guarded(*args: Any) -> Any:
            try:
                return function(*args)
            except PreventUpdate:
                raise
            except Exception as error:  # the boundary: whatever was missed, never a 500
                LOG.warning(
                    "callback %s failed unexpectedly: %s: %s",
                    function.__name__,
                    type(error).__name__,
                    str(error).splitlines()[0][:200] if str(error) else "",
                )
                return fallback(outputs, f"not readable: {type(error).__name__}")

        return app.callback(*dependencies, **options)(guarded)

    return register


def fallback(outputs: list[Output], text: str) -> Any:
    """A visible error state for each output (or no change where none can be shown)."""
    values = [_fallback(output.component_property, text) for output in outputs]
    return values[0] if len(values) == 1 else tuple(values)


def _fallback(prop: str, text: str) -> Any:
    if prop == "children":
        return message(text)
    if prop == "figure":
        return figures.empty_figure(text)
    if prop in ("options", "data"):
        return []
    if prop == "page_count":
        return 1
    return no_update


# ---------------------------------------------------------------------------------------------
# The request envelope
# ---------------------------------------------------------------------------------------------


def install(app: Dash) -> None:
    """Refuse malformed callback requests with a 400 before Dash reads them, and bodies
    above MAX_REQUEST_BYTES with a 413."""
    app.server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    route = app.config.routes_pathname_prefix + UPDATE_ROUTE

    def check() -> Any:
        request = app.backend.request_adapter()
        if request.path != route:
            return None
        try:
            body = request.get_json()  # a 400/415 of its own if the body is not JSON
        except RecursionError:
            body = RecursionError
        problem = envelope_problem(app, body)
        if problem is None:
            return None
        LOG.info("refused a callback request: %s", problem)
        return app.backend.make_response(
            json.dumps({"error": f"bad callback request: {problem}"}),
            content_type="application/json",
            status=400,
        )

    app.backend.before_request(check)


def server_callbacks(app: Dash) -> dict[str, dict[str, Any]]:
    """The callbacks of ``app`` that run on the server, by output key (clientside ones
    never reach it)."""
    return {key: spec for key, spec in app.callback_map.items() if "callback" in spec}


def request_body(app: Dash, output: str, values: list[Any]) -> dict[str, Any]:
    """The body the browser POSTs to run callback ``output`` with ``values`` for its inputs
    then its state, in order (for tests and benchmarks, and the shape checked here)."""
    spec = app.callback_map[output]
    dependencies = [*spec["inputs"], *spec["state"]]
    if len(values) != len(dependencies):
        raise ValueError(f"{output} takes {len(dependencies)} values, not {len(values)}")
    items = [
        {"id": d["id"], "property": d["property"], "value": v}
        for d, v in zip(dependencies, values, strict=True)
    ]
    if output.startswith(".."):
        outputs: Any = [_split(part) for part in output[2:-2].split("...")]
    else:
        outputs = _split(output)
    inputs = len(spec["inputs"])
    return {
        "output": output,
        "outputs": outputs,
        "inputs": items[:inputs],
        "state": items[inputs:],
        "changedPropIds": [f"{d['id']}.{d['property']}" for d in spec["inputs"]],
    }


def _split(output: str) -> dict[str, str]:
    id_, prop = output.split("@")[0].rsplit(".", 1)
    return {"id": id_, "property": prop}


def _is_dependency(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("id"), str)
        and isinstance(value.get("property"), str)
    )


def envelope_problem(app: Dash, body: Any) -> str | None:
    """Why ``body`` is not a request for one of ``app``'s server callbacks, or None."""
    if body is RecursionError:
        return "JSON nested too deep"
    if not isinstance(body, dict):
        return "not a JSON object"
    output = body.get("output")
    spec = app.callback_map.get(output) if isinstance(output, str) else None
    if spec is None or "callback" not in spec:
        return "no such callback"
    for part, expected in (("inputs", spec["inputs"]), ("state", spec["state"])):
        items = body.get(part, [])
        if not isinstance(items, list) or len(items) != len(expected):
            return f"{part} do not match the callback's"
        for item, dependency in zip(items, expected, strict=True):
            if not isinstance(item, dict):
                return f"{part} do not match the callback's"
            if str(dependency["id"]).startswith("{"):  # pattern-matching: Dash checks them
                continue
            if item.get("id") != dependency["id"] or item.get("property") != dependency["property"]:
                return f"{part} do not match the callback's"
    outputs = body.get("outputs")
    wanted = output.count("...") + 1 if output.startswith("..") else 1
    listed = outputs if isinstance(outputs, list) else [outputs]
    multi = output.startswith("..")
    if (
        multi != isinstance(outputs, list)
        or len(listed) != wanted
        or not all(_is_dependency(o) for o in listed)
    ):
        return "outputs do not match the callback's"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "changedPropIds is not a list of strings"
    return None


__all__ = [
    "callback",
    "envelope_problem",
    "fallback",
    "install",
    "request_body",
    "server_callbacks",
]
