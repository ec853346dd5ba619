"""The Dash app: ``create_app(runs_dir)`` builds one, bound to one runs directory.

Nothing happens at import time; each app owns its store, layout and callbacks, so several
can live in one interpreter (tests). Everything the browser loads is served by the app
itself (Dash's component bundles, plotly.js and the map's TopoJSON under ``assets/``), so
the dashboard works air-gapped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dash import Dash, Input, Output, dcc, html
from dash.exceptions import UnsupportedRelativePath
from twin.dashboards import guard, ids, inputs
from twin.dashboards.components import Context, message
from twin.dashboards.pages import compare, explore, latency, replay, runs, sweeps
from twin.dashboards.store import RunStore

ASSETS = Path(__file__).parent / "assets"
PAGES = (runs, replay, explore, latency, compare, sweeps)


def create_app(runs_dir: str | Path = "runs", *, title: str = "twin", **dash_options: Any) -> Dash:
    """A Dash app over the runs under ``runs_dir`` (RunError if it is not a directory).

    ``dash_options`` go to :class:`dash.Dash` (e.g. ``requests_pathname_prefix``).
    """
    store = RunStore(runs_dir)
    app = Dash(
        __name__,
        title=title,
        assets_folder=str(ASSETS),
        serve_locally=True,
        suppress_callback_exceptions=True,
        update_title=None,
        **dash_options,
    )
    context = Context(
        store=store,
        href=app.get_relative_path,
        graph_config={"topojsonURL": app.get_asset_url("topojson/")},
    )
    app.layout = html.Div(
        [
            dcc.Location(id=ids.URL),
            html.Nav(
                [
                    html.Span("twin", className="brand"),
                    *(
                        dcc.Link(page.TITLE, href=context.href(page.PATH), className="nav-link")
                        for page in PAGES
                    ),
                    html.Span(str(store.root), className="muted nav-root"),
                ],
                id=ids.NAV,
            ),
            html.Main(id=ids.PAGE),
        ]
    )

    guard.install(app)

    @guard.callback(
        app, Output(ids.PAGE, "children"), Input(ids.URL, "pathname"), Input(ids.URL, "search")
    )
    def route(pathname: Any, search: Any) -> Any:
        try:
            path = "/" + (app.strip_relative_path(inputs.url_path(pathname)) or "")
        except UnsupportedRelativePath:  # a path outside the app's prefix
            path = None
        for page in PAGES:
            if path is not None and path.rstrip("/") == page.PATH.rstrip("/"):
                return page.layout(context, search if isinstance(search, str) else None)
        return message(f"no page at {inputs.shown(pathname)}", "info")

    for page in PAGES:
        page.register(app, context)
    return app
