"""The dashboard's hourly p99 latency of a site, read from the windows' sketches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from twin.dashboards.store import RunStore

from twin.trace import sketches

from .conftest import Kit


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    data = Kit.scenario(
        [Kit.site("a", 16), Kit.site("b", 16, lat=45.0, lon=5.0)],
        [Kit.region("r"), Kit.region("s", lat=45.0, lon=5.0)],
        [
            Kit.llm(
                peak_rps=0.5, replicas={"a": 1, "b": 1}, output={"dist": "constant", "value": 40}
            ),
            Kit.single(peak_rps=5.0, replicas={"a": 1}),
        ],
        horizon=3 * 3600.0 - 600.0,  # the last hour is cut short
        window=30.0,
    )
    Kit.run_trace(data, root / "two")
    return root


def test_each_hours_p99_is_the_merged_sketches_of_its_windows(runs: Path) -> None:
    panels = RunStore(runs).get("two").site_series("a")
    (hourly,) = [p for p in panels if p.title.startswith("p99 latency of each hour")]
    assert sorted(line.name for line in hourly.lines) == ["chat", "svc"]
    for line in hourly.lines:
        np.testing.assert_array_equal(line.x, [3600.0, 7200.0, 10800.0])
        expected = [
            sketches.percentiles_ms(
                runs / "two", "latency", [99.0], line.name, ["a"], lo, lo + 3600
            )[0]
            for lo in (0.0, 3600.0, 7200.0)
        ]
        np.testing.assert_allclose(line.y, expected, rtol=1e-12)
    at_b = RunStore(runs).get("two").site_series("b")
    (hourly_b,) = [p for p in at_b if p.title.startswith("p99 latency of each hour")]
    assert [line.name for line in hourly_b.lines] == ["chat"]  # site b serves chat only
