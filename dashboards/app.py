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
from twin.dashboards import ids
from twin.dashboards.components import Context, message
from twin.dashboards.data import RunStore
from twin.dashboards.pages import compare, explore, replay, runs

ASSETS = Path(__file__).parent / "assets"
PAGES = (runs, replay, explore, compare)


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

    @app.callback(
        Output(ids.PAGE, "children"), Input(ids.URL, "pathname"), Input(ids.URL, "search")
    )
    def route(pathname: str | None, search: str | None) -> Any:
        path = "/" + app.strip_relative_path(pathname or "/") if pathname else "/"
        for page in PAGES:
            if path.rstrip("/") == page.PATH.rstrip("/"):
                return page.layout(context, search)
        return message(f"no page at {pathname}", "info")

    for page in PAGES:
        page.register(app, context)
    return app
