"""twin: an event-driven digital twin of the European AI compute network.

The public API is loaded lazily so that ``import twin`` (and ``import twin.kernels``) pulls in
no SimPy, Dash or pyarrow::

    import twin
    scenario = twin.load_config("europe", overrides=["policies.placement=lowest_carbon"])
    result = twin.simulate(scenario, out="runs/green")
    run = twin.open_run("runs/green")
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

# In a source checkout, kernels/, dashboards/ and configs/ sit beside twin/ and are installed
# as twin.kernels, twin.dashboards and twin.configs (DESIGN §2). When the checkout itself is
# on sys.path (``python -m twin`` from its root), let them resolve the same way.
_checkout = Path(__file__).resolve().parent.parent
if not (Path(__file__).parent / "kernels").is_dir() and (_checkout / "kernels").is_dir():
    __path__.append(str(_checkout))

_API = {
    "load_config": "twin.config",
    "Scenario": "twin.config",
    "simulate": "twin.simulation",
    "RunResult": "twin.simulation",
    "open_run": "twin.trace.reader",
    "Run": "twin.trace.reader",
    "World": "twin.model.world",
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(_API[name]), name)
    if name == "__version__":
        from twin.version import __version__

        return __version__
    raise AttributeError(f"module 'twin' has no attribute {name!r}")
