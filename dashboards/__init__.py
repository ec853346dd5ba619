"""The Dash dashboard (installed as ``twin.dashboards``): ``create_app(runs_dir)``.

It reads run directories through :mod:`twin.trace` only; it never imports the model.
"""

from twin.dashboards.app import create_app

__all__ = ["create_app"]
