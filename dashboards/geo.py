"""Where things are: the sites, PoPs and links of a run's resolved ``config.yaml``.

The config is parsed with a budget, because it comes from a run directory anyone may have
written: its size is bounded before it is read (:func:`twin.dashboards.files.read_bytes`),
then a pass over its YAML events (no objects built) counts nodes (an alias counted as the
size of what it names, so a "billion laughs" bomb stops after a few events) and nesting
depth, and only then is the document built, with libyaml's C loader when available. Any
YAML problem is one message, never an exception out of here.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import yaml
from twin.dashboards.columns import link_id
from twin.dashboards.errors import MalformedError, malformed
from twin.dashboards.limits import MAX_CONFIG_DEPTH, MAX_CONFIG_NODES

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader (fast) if PyYAML was built with it."""


@dataclass(frozen=True)
class Node:
    """A site or PoP on the map."""

    id: str
    name: str
    lat: float
    lon: float
    kind: str  # "site" or "pop"
    accelerators: int = 0
    power_mw: float | None = None
    opens: str | None = None
    """The day a site opens (``YYYY-MM-DD``, its ``online_from``), if the config says."""


@dataclass(frozen=True)
class Edge:
    """A configured network link."""

    id: str
    a: str
    b: str
    capacity_gbps: float


@dataclass(frozen=True)
class Geo:
    """Where things are: the sites, PoPs, links and demand regions of a run's resolved
    config."""

    sites: tuple[Node, ...] = ()
    pops: tuple[Node, ...] = ()
    links: tuple[Edge, ...] = ()
    regions: tuple[Node, ...] = ()

    @cached_property
    def nodes(self) -> dict[str, Node]:
        return {node.id: node for node in (*self.sites, *self.pops)}


# ---------------------------------------------------------------------------------------------
# YAML within a budget
# ---------------------------------------------------------------------------------------------


def load_yaml(
    text: str, *, max_nodes: int = MAX_CONFIG_NODES, max_depth: int = MAX_CONFIG_DEPTH
) -> Any:
    """``text`` as safe YAML, or ``malformed: config.yaml: …`` if it is not YAML or is
    beyond the budget (more than ``max_nodes`` nodes counting aliases expanded, or nested
    deeper than ``max_depth``)."""
    try:
        _check_budget(text, max_nodes, max_depth)
        return yaml.load(text, Loader=Loader)  # a safe loader
    except yaml.MarkedYAMLError as error:
        where = error.problem_mark
        at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        why = error.problem or error.context
        raise malformed("config.yaml", f"not valid YAML: {why}{at}") from None
    except MalformedError:
        raise
    except (yaml.YAMLError, RecursionError, ValueError, TypeError, OverflowError) as error:
        raise malformed("config.yaml", f"not valid YAML: {type(error).__name__}") from None


def _check_budget(text: str, max_nodes: int, max_depth: int) -> None:
    sizes: dict[str, int] = {}  # anchor → nodes it expands to
    open_: list[list[Any]] = []  # collections being read: [nodes so far, anchor]
    total = 0
    for event in yaml.parse(text, Loader=Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            open_.append([1, event.anchor])
            total += 1
            if len(open_) > max_depth:
                raise malformed("config.yaml", f"nested deeper than {max_depth} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            count, anchor = open_.pop()
            if anchor is not None:
                sizes[anchor] = count
            if open_:
                open_[-1][0] += count
        elif isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)):
            weight = sizes.get(event.anchor, 1) if isinstance(event, yaml.AliasEvent) else 1
            if isinstance(event, yaml.ScalarEvent) and event.anchor is not None:
                sizes[event.anchor] = 1
            total += weight
            if open_:
                open_[-1][0] += weight
        if total > max_nodes:
            raise malformed("config.yaml", f"more than {max_nodes:,} YAML nodes (aliases expanded)")


# ---------------------------------------------------------------------------------------------
# The map's nodes and links
# ---------------------------------------------------------------------------------------------


def parse_geo(config: str | Any) -> Geo:
    """Sites, PoPs and links of a resolved config (its YAML text, or the parsed document).
    Entries lacking a usable field are skipped; an unreadable config gives an empty map."""
    if isinstance(config, str):
        try:
            config = load_yaml(config) if config.strip() else {}
        except MalformedError:
            return Geo()
    if not isinstance(config, dict):
        return Geo()
    links = []
    for entry in _entries(config.get("links")):
        a, b = _text(entry.get("a")), _text(entry.get("b"))
        capacity = _number(entry.get("capacity_gbps"))
        if a and b and capacity is not None and capacity >= 0:
            links.append(Edge(link_id(a, b), a, b, capacity))
    workloads = config.get("workloads")
    inference = workloads.get("inference") if isinstance(workloads, dict) else None
    regions = inference.get("regions") if isinstance(inference, dict) else None
    return Geo(
        _nodes("site", config.get("sites")),
        _nodes("pop", config.get("pops")),
        tuple(links),
        _nodes("region", regions),
    )


def _nodes(kind: str, entries: Any) -> tuple[Node, ...]:
    found = []
    for entry in _entries(entries):
        id_ = _text(entry.get("id"))
        lat, lon = _number(entry.get("lat")), _number(entry.get("lon"))
        if not id_ or lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
            continue
        counts = [_number(pool.get("count")) for pool in _entries(entry.get("pools"))]
        accelerators = sum(int(c) for c in counts if c is not None and 0 <= c <= 1e9)
        power = _number(entry.get("power_mw"))
        found.append(
            Node(
                id=id_,
                name=_text(entry.get("name")) or id_,
                lat=lat,
                lon=lon,
                kind=kind,
                accelerators=accelerators,
                power_mw=power if power is not None and power >= 0 else None,
                opens=_day(entry.get("online_from")),
            )
        )
    return tuple(found)


def _day(value: Any) -> str | None:
    """A timestamp (ISO text, or a date YAML parsed) as its day, ``YYYY-MM-DD``."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, str) and len(value) >= 10:
        try:
            return dt.date.fromisoformat(value[:10]).isoformat()
        except ValueError:
            return None
    return None


def _entries(value: Any) -> list[dict[str, Any]]:
    """The mappings of a list (anything else: none)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    """A scalar as an id or name (numbers too: YAML reads ``id: 1`` as an int)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text = str(value)
    return text if 0 < len(text) <= 200 else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return number if math.isfinite(number) else None


__all__ = ["Edge", "Geo", "Loader", "Node", "load_yaml", "parse_geo"]
