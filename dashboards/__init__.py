"""The Dash dashboard (installed as ``twin.dashboards``)."""
