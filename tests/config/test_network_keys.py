"""The network keys of links and ``network``: half duplex, capacity schedules, routing,
sharing and TCP windows; every mistake is reported with its path."""

from __future__ import annotations

import pytest
import yaml

from twin.config import ConfigError, builtin_scenarios, validate_scenario


def tiny() -> dict:
    data = yaml.safe_load(builtin_scenarios()["tiny"].read_text())
    data["links"] = [{"a": "north", "b": "south", "capacity_gbps": 100}]
    return data


def issues(data: dict) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        validate_scenario(data)
    return {issue.path: issue.message for issue in caught.value.issues}


def test_the_new_keys_are_accepted():
    data = tiny()
    data["links"][0].update(
        duplex=False,
        capacity_schedule=[{"at": "1h", "capacity_gbps": 50}, {"at": "2h", "capacity_gbps": 200}],
    )
    data["network"] = {"routing": "hops", "sharing": "rtt_weighted", "tcp_window_bytes": 4e6}
    scenario = validate_scenario(data)
    link = scenario.links[0]
    assert not link.duplex and [step.at for step in link.capacity_schedule] == [3600.0, 7200.0]
    assert scenario.network.routing == "hops" and scenario.network.sharing == "rtt_weighted"
    assert scenario.network.tcp_window_bytes == 4e6
    defaults = validate_scenario(tiny())
    assert defaults.links[0].duplex and defaults.links[0].capacity_schedule == []
    assert defaults.network.routing == "latency" and defaults.network.sharing == "maxmin"
    assert defaults.network.tcp_window_bytes is None


def test_half_duplex_directed_link_is_an_error_at_its_path():
    data = tiny()
    data["links"][0].update(duplex=False, directed=True)
    found = issues(data)
    assert list(found) == ["links[0].duplex"]
    assert "directed" in found["links[0].duplex"]


def test_capacity_schedule_mistakes_have_paths():
    data = tiny()
    data["links"][0]["capacity_schedule"] = [
        {"at": "2h", "capacity_gbps": 50},
        {"at": "1h", "capacity_gbps": 20},  # out of order
        {"at": "3h", "capacity_gbps": 0},  # not > 0
        {"at": "3h", "capacity_gbps": 10},  # the same time again
        {"at": "4h", "capacity": 10},  # unknown key, capacity_gbps missing
    ]
    found = issues(data)
    assert "increasing order" in found["links[0].capacity_schedule[1].at"]
    assert found["links[0].capacity_schedule[2].capacity_gbps"] == "must be > 0, got 0"
    assert "increasing order" in found["links[0].capacity_schedule[3].at"]
    assert "did you mean 'capacity_gbps'" in found["links[0].capacity_schedule[4].capacity"]
    assert found["links[0].capacity_schedule[4].capacity_gbps"] == "required, but missing"
    assert "links[0].capacity_schedule[2].at" not in found


def test_network_routing_sharing_and_window_mistakes_have_paths():
    data = tiny()
    data["network"] = {"routing": "bandwidth", "sharing": "fair", "tcp_window_bytes": -1}
    found = issues(data)
    assert "'latency', 'km' or 'hops'" in found["network.routing"]
    assert "'maxmin' or 'rtt_weighted'" in found["network.sharing"]
    assert found["network.tcp_window_bytes"] == "must be > 0, got -1"
