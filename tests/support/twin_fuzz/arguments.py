"""Seeded ``--set`` and ``--horizon``/``--seed`` arguments, valid-looking and hostile."""

from __future__ import annotations

import math
import random
from typing import Any

from .mutations import DATES, DURATIONS, NUMBERS, POLICY_NAMES, TEXTS, WRONG_TYPES, dump, paths

HOSTILE_SETS: tuple[str, ...] = (
    "",
    "=",
    "=5",
    "horizon",
    "a..b=1",
    ".a=1",
    "a.=1",
    "sites[=1",
    "sites]=1",
    "sites[]=1",
    "sites[99]=1",
    "sites[-99].pue=1",
    "sites[99999999999999999999999].pue=1",
    "sites.nowhere.pue=1",
    "sites[nowhere].pue=1",
    "[0]=1",
    "horizon.x=1",
    "name.x.y=1",
    "x" * 10_000 + "=1",
    ".".join(["a"] * 100) + "=1",
    "name=&a [*a]",
    "name=" + "[" * 10_000,
    "name=" + "[" * 100 + "]" * 100,
    "name=x\x00y",
    "name=[/]",
    "name=[bold]x[/bold]",
    "start=2024-02-30",
    "start=20261229",
    "horizon=1e400s",
    "horizon=inf",
    "horizon=-1",
    "seed=-1",
    "seed=1e400",
    "seed=99999999999999999999999",
    "seed=1.5",
    "policies.placement=[1]",
    "policies.scheduler={a: 1}",
    "sites=5",
    "sites=[]",
    "sites[0]=null",
    "sites[0].pools=[{accelerator: H100, count: 18446744073709551616}]",
    "telemetry.interval=1e-9",
    "workloads.training.arrivals_per_day=1e12",
    "accelerators.H100.speed=.inf",
    "accelerators.H100.idle_w=1e308",
    "sites[0].price_eur_per_mwh=.nan",
    "workloads.training.duration_s={dist: lognormal, median: 1, sigma: 1000}",
    "workloads.training.duration_s={dist: empirical, file: builtin:nope.csv}",
    "workloads.training.duration_s={dist: empirical, file: builtin:philly_runtime.csv.gz, "
    "column: nope}",
    "workloads.training.duration_s={dist: empirical, file: /etc/passwd}",
    "workloads.training.duration_s={dist: empirical, file: /dev/zero}",
    "workloads.training.duration_s={dist: empirical, file: /}",
    "sites[0].carbon_gco2_per_kwh={series: builtin:nope.csv}",
    "sites[0].carbon_gco2_per_kwh={series: builtin:grid_2025_de.csv.gz}",
    "sites[0].carbon_gco2_per_kwh={series: /etc/passwd}",
    "sites[0].carbon_gco2_per_kwh={series: /dev/zero}",
    "sites[0].price_eur_per_mwh={series: /, repeat: true}",
    "sites[0].price_eur_per_mwh={series: builtin:grid_2025_fr.csv.gz, repeat: true, scale: .nan}",
    "sites[0].price_eur_per_mwh={series: builtin:grid_2025_fr.csv.gz, repeat: 3, column: [1]}",
    "sites[0].power_mw={series: builtin:grid_2025_se.csv.gz, repeat: true, column: time}",
    "sites[0].power_mw=[{at: 1h, power_mw: 1}, {at: 0, power_mw: .inf}]",
    "sites[0].power_mw=[]",
    "workloads.training.deferrable={share: 1.5, slack: 12h}",
    "workloads.training.deferrable={slack: -1h}",
    "workloads.training.deferrable=[1]",
    "policies.start=greenest",
    "policies.forecast_error=.inf",
    "access.programmes.x.tenants=[nobody]",
    "access.programmes.x={tenants: [startup], reserved_share: 2}",
    "access.programmes.x={tenants: [startup], quota: {accelerator_hours: -1}}",
    "access=[]",
)


def _value(rng: random.Random) -> Any:
    pool = rng.choice((NUMBERS, WRONG_TYPES, DATES, DURATIONS, TEXTS, POLICY_NAMES))
    return rng.choice(pool)


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, float) and math.isnan(value):
        return ".nan"
    if isinstance(value, float) and math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = dump(value).strip()
    return text.removesuffix("\n...").strip()


def set_argument(rng: random.Random, base: dict[str, Any]) -> str:
    """A ``--set PATH=VALUE``: a real path of ``base`` (by index or id) or a hostile one."""
    if rng.random() < 0.25:
        return rng.choice(HOSTILE_SETS)
    path = rng.choice([p for p in paths(base) if p])
    parts = []
    node: Any = base
    for part in path:
        if isinstance(part, int):
            item = node[part]
            if isinstance(item, dict) and "id" in item and rng.random() < 0.5:
                parts.append(f".{item['id']}" if rng.random() < 0.5 else f"[{item['id']}]")
            else:
                parts.append(f"[{part}]")
        else:
            parts.append(f".{part}" if parts else str(part))
        node = node[part]
    text = "".join(parts).lstrip(".")
    return f"{text}={_yaml_scalar(_value(rng))}"


def option_arguments(rng: random.Random) -> list[str]:
    """``--horizon`` or ``--seed`` with an odd value."""
    if rng.random() < 0.5:
        return ["--horizon", str(rng.choice(DURATIONS))]
    return ["--seed", str(rng.choice(NUMBERS))]
