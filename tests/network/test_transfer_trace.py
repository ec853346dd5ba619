"""Transfer list replay (``workloads.transfers.trace``) through the CLI and whole runs.

Every listed transfer in the replay window and before the horizon appears once in
``transfers.arrow`` with its label, ends, bytes and mapped start; bytes are conserved; the
replayed flows share links max-min fairly (hand-computed); a list naming a node the
scenario lacks, or joining nodes no link joins, is refused with its file line (exit 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import yaml
from click.testing import CliRunner
from network_kit import ACCELERATORS, GB, site

from twin.cli import main
from twin.config import load_config, validate_scenario
from twin.config.errors import ConfigError, TwinUserError
from twin.config.schema_traces import TransferTrace
from twin.importers import write_workload
from twin.model.world import World
from twin.replay.clock import replay_times
from twin.simulation import simulate
from twin.trace.reader import open_run
from twin.trace.schema import WORKLOAD_TRANSFERS

LISTED = """start_s,source,destination,gb,label
100,a,b,2,nightly backup
100,b,a,1,
130,a,c,0.5,to the pop side
160,c,a,4,"weights, v2"
400,b,c,3,late
900,a,b,1,after the horizon
"""
"""Six transfers, trace times 100 … 900 s; c sits behind the PoP p."""


def scenario(trace: dict[str, Any], horizon: float = 600.0, **transfers: Any) -> dict[str, Any]:
    return {
        "name": "transfer-trace",
        "start": "2026-03-02",
        "horizon": horizon,
        "seed": 3,
        "accelerators": ACCELERATORS,
        "sites": [site("a"), site("b", lon=11.0), site("c", lon=12.0)],
        "pops": [{"id": "p", "lat": 50.0, "lon": 11.5}],
        "links": [
            {"a": "a", "b": "b", "capacity_gbps": 10.0, "latency_ms": 5.0},
            {"a": "b", "b": "p", "capacity_gbps": 4.0, "latency_ms": 2.0},
            {"a": "p", "b": "c", "capacity_gbps": 4.0, "latency_ms": 1.0},
        ],
        "tenants": {"academia": {"share": 1.0}},
        "telemetry": {"interval": 60.0},
        "workloads": {"transfers": {"trace": trace, **transfers}},
    }


def write(folder: Path, data: dict[str, Any], listed: str = LISTED) -> Path:
    (folder / "lists").mkdir(exist_ok=True)
    (folder / "lists" / "moves.csv").write_text(listed)
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run(tmp_path: Path, data: dict[str, Any], listed: str = LISTED) -> Any:
    config = write(tmp_path, data, listed)
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", str(config), "-q", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return open_run(out).table("transfers").to_pandas().replace({float("nan"): None})


def test_every_listed_transfer_appears_once_with_its_label_ends_bytes_and_mapped_start(
    tmp_path,
):
    # align first: the first record (100 s) at the start + offset 50 s; rate 2: trace gaps
    # halved. The record at trace 900 s maps to 50 + 400 = 450 s, before the horizon of
    # 600 s, but the window ends at 700 s of trace time from the first record: left out.
    trace = {"file": "lists/moves.csv", "offset": "50s", "rate_scale": 2.0}
    trace["window"] = {"end": "700s"}
    transfers = run(tmp_path, scenario(trace))
    expected = [
        (50.0 + (t - 100.0) / 2.0, source, destination, gb * GB, label)
        for t, source, destination, gb, label in [
            (100, "a", "b", 2, "nightly backup"),
            (100, "b", "a", 1, None),
            (130, "a", "c", 0.5, "to the pop side"),
            (160, "c", "a", 4, "weights, v2"),
            (400, "b", "c", 3, "late"),
        ]
    ]
    rows = sorted(transfers.to_dict("records"), key=lambda row: row["transfer"])
    found = [
        (row["start_s"], row["source"], row["destination"], row["bytes"], row["label"])
        for row in rows
    ]
    assert found == expected
    assert {row["kind"] for row in rows} == {"bulk"}
    assert rows[2]["route"] == "a>b>p>c"
    assert {row["state"] for row in rows} == {"delivered"}


def test_bytes_are_conserved_delivered_plus_in_flight_equal_the_listed(tmp_path):
    # align zero: trace time = scenario time. The 30 GB from b at 400 s needs 60 s at the
    # 4 Gbps of b~p: it is still in flight at the horizon of 420 s.
    listed = LISTED.replace("400,b,c,3,late", "400,b,c,30,late")
    trace = {"file": "lists/moves.csv", "align": "zero"}
    transfers = run(tmp_path, scenario(trace, horizon=420.0), listed)
    listed_bytes = (2 + 1 + 0.5 + 4 + 30) * GB  # the 900 s one is after the horizon
    delivered = transfers.loc[transfers["state"] == "delivered", "bytes"].sum()
    in_flight = transfers.loc[transfers["state"] == "in_flight", "bytes"].sum()
    assert transfers["state"].value_counts().to_dict() == {"delivered": 4, "in_flight": 1}
    assert in_flight == 30 * GB
    assert delivered + in_flight == pytest.approx(listed_bytes, rel=1e-12)
    assert transfers["start_s"].tolist() == [100.0, 100.0, 130.0, 160.0, 400.0]


def test_two_replayed_flows_on_one_link_get_the_max_min_shares(tmp_path):
    # 10 GB from trace 0 s, 5 GB from 2 s on the 10 Gbps a~b (5 ms). The first sends alone at
    # 10 Gbps for 2 s (20 Gbit); both then get 5 Gbps; the second's 40 Gbit drain at 10 s,
    # when the first has 20 Gbit left, sent at 10 Gbps by 12 s. Each lands 5 ms later.
    listed = "start_s,source,destination,bytes,label\n0,a,b,1e10,big\n2,a,b,5e9,small\n"
    transfers = run(tmp_path, scenario({"file": "lists/moves.csv"}), listed)
    big, small = (transfers.set_index("label").loc[name] for name in ("big", "small"))
    assert big["end_s"] == pytest.approx(12.005, rel=1e-12)
    assert small["end_s"] == pytest.approx(10.005, rel=1e-12)
    assert small["mean_gbps"] == pytest.approx(5.0, rel=1e-12)  # 40 Gbit over 8 s
    assert big["mean_gbps"] == pytest.approx(80.0 / 12.0, rel=1e-12)
    assert big["duration_s"] == pytest.approx(12.005, rel=1e-12)
    assert small["duration_s"] == pytest.approx(8.005, rel=1e-12)


def test_replay_and_synthetic_transfers_coexist_and_only_the_replayed_carry_labels(tmp_path):
    data = scenario({"file": "lists/moves.csv"}, arrivals_per_day=2000.0)
    data["workloads"]["transfers"]["size_gb"] = {"dist": "constant", "value": 0.1}
    transfers = run(tmp_path, data)
    labelled = transfers[transfers["label"].notna()]
    assert sorted(labelled["label"]) == ["late", "nightly backup", "to the pop side", "weights, v2"]
    synthetic = transfers[transfers["bytes"] == 0.1 * GB]
    assert len(synthetic) > 3 and synthetic["label"].isna().all()
    assert len(transfers) == len(synthetic) + 5  # four labelled, one listed without a label


def test_the_run_is_the_same_byte_for_byte_twice(tmp_path):
    config = write(tmp_path, scenario({"file": "lists/moves.csv"}))
    tables = []
    for name in ("one", "two"):
        out = tmp_path / name
        result = CliRunner().invoke(main, ["run", str(config), "-q", "--out", str(out)])
        assert result.exit_code == 0, result.output
        tables.append((out / "transfers.arrow").read_bytes())
    assert tables[0] == tables[1]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("300,a,nowhere,1,x", "line 8: destination 'nowhere' is not a site or PoP"),
        ("300,ghost,b,1,x", "line 8: source 'ghost' is not a site or PoP"),
        ("300,a,island,1,x", "line 8: no route from 'a' to 'island' over the links"),
    ],
)
def test_a_list_with_a_node_the_scenario_cannot_reach_exits_2_naming_its_line(
    tmp_path, line, message
):
    data = scenario({"file": "lists/moves.csv"})
    data["sites"].append(site("island", lon=20.0))
    config = write(tmp_path, data, LISTED + line + "\n")
    result = CliRunner().invoke(main, ["run", str(config), "-q", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "workloads.transfers.trace.file" in result.output
    assert f"moves.csv {message}" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_a_directed_link_joins_one_way_only(tmp_path):
    data = scenario({"file": "lists/moves.csv"})
    data["links"][2]["directed"] = True  # p → c only: nothing leaves c
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, data))
    assert [issue.message for issue in error.value.issues] == [
        "moves.csv line 5: no route from 'c' to 'a' over the links"
    ]


def test_a_malformed_list_is_refused_at_load_with_its_lines(tmp_path):
    listed = LISTED + "300,a,b,-1,x\n300,a,b,lots,x\n"
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, scenario({"file": "lists/moves.csv"}), listed))
    (issue,) = error.value.issues
    assert issue.path == "workloads.transfers.trace.file"
    assert "line 8: gb: negative" in issue.message
    assert "line 9: gb: expected a number, got 'lots'" in issue.message


def test_a_missing_list_and_an_unknown_builtin_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such trace file"):
        load_config(write(tmp_path, scenario({"file": "lists/absent.csv"})))
    with pytest.raises(ConfigError, match=r"no built-in data file 'absent\.csv'"):
        load_config(write(tmp_path, scenario({"file": "builtin:absent.csv"})))


@pytest.mark.parametrize(
    ("align", "kept", "at_s"),
    [
        # first: trace time counts from 10 s, so the window [15, 35) holds 30 and 40 s.
        ("first", [2, 3], [100.0 + 5.0 / 2.0, 100.0 + 15.0 / 2.0]),
        # zero: it counts from 0, so the window holds 20 and 30 s.
        ("zero", [1, 2], [100.0 + 5.0 / 2.0, 100.0 + 15.0 / 2.0]),
    ],
)
def test_the_replay_clock_aligns_windows_shifts_and_compresses(align, kept, at_s):
    spec = TransferTrace(
        file="x.csv", align=align, offset=100.0, rate_scale=2.0, window={"start": 15, "end": 35}
    )
    index, times = replay_times(np.array([10.0, 20.0, 30.0, 40.0, 50.0]), spec, 1e9)
    assert index.tolist() == kept and times.tolist() == at_s
    index, times = replay_times(np.array([10.0, 20.0, 30.0, 40.0, 50.0]), spec, at_s[1])
    assert index.tolist() == kept[:1]  # a record at the horizon is not replayed


def test_replaying_a_runs_own_bulk_transfers_reproduces_them_exactly(tmp_path):
    # The Poisson generator's transfers, written out as a list and replayed with the
    # generator off (align zero: the same start times), share the links in the same way:
    # every column of transfers.arrow is the same but the label.
    data = scenario({"file": "lists/moves.csv"}, arrivals_per_day=20000.0)
    data["workloads"]["transfers"]["size_gb"] = {"dist": "lognormal", "median": 20, "sigma": 1}
    synthetic = run(tmp_path, data, "start_s,source,destination,bytes\n")
    assert len(synthetic) > 10 and (synthetic["state"] == "in_flight").any()
    listed = "start_s,source,destination,bytes,label\n" + "".join(
        f"{row.start_s!r},{row.source},{row.destination},{row.bytes!r},t{row.transfer}\n"
        for row in synthetic.itertuples()
    )
    replay = {"workloads": {"transfers": {"trace": {"file": "lists/moves.csv", "align": "zero"}}}}
    (tmp_path / "replay").mkdir()
    replayed = run(tmp_path / "replay", {**data, **replay}, listed)
    assert replayed["label"].tolist() == [f"t{n}" for n in synthetic["transfer"]]
    columns = [name for name in synthetic.columns if name != "label"]
    assert replayed[columns].equals(synthetic[columns])


def test_an_arrow_list_is_checked_for_what_its_schema_cannot_say(tmp_path):
    # A normalised list written by hand (not through the CSV reader): a negative size, a
    # start that is not a number and a transfer with one end are refused by line.
    rows = {
        "start_s": [0.0, float("nan"), 5.0, 6.0],
        "source": ["a", "a", "b", "c"],
        "destination": ["b", "b", "b", "a"],
        "bytes": [1e9, 1e9, 1e9, -1.0],
        "label": [None, None, None, None],
        "line": [2, 3, 4, 5],
    }
    (tmp_path / "lists").mkdir()
    write_workload(pa.table(rows, schema=WORKLOAD_TRANSFERS), tmp_path / "lists" / "m.arrow")
    config = write(tmp_path, scenario({"file": "lists/m.arrow"}))
    with pytest.raises(ConfigError) as error:
        load_config(config)
    assert [issue.message for issue in error.value.issues] == [
        "m.arrow line 3: start_s: expected a finite number ≥ 0, got nan",
        "m.arrow line 4: source and destination are both 'b'",
        "m.arrow line 5: bytes: expected a finite number ≥ 0, got -1.0",
    ]


def test_a_scenario_built_without_the_loader_replays_in_time_order_and_checks_its_list(tmp_path):
    # validate_scenario alone (no loader check): the model reads and checks the list itself,
    # and starts an Arrow list that is not in order of start in time order.
    rows = {
        "start_s": [50.0, 10.0],
        "source": ["a", "b"],
        "destination": ["b", "a"],
        "bytes": [1e9, 2e9],
        "label": ["later", "sooner"],
        "line": [2, 3],
    }
    listed = tmp_path / "m.arrow"
    write_workload(pa.table(rows, schema=WORKLOAD_TRANSFERS), listed)
    data = scenario({"file": str(listed), "align": "zero"})
    simulate(validate_scenario(data), out=tmp_path / "run")
    transfers = open_run(tmp_path / "run").table("transfers").to_pylist()
    found = [(row["transfer"], row["label"], row["start_s"]) for row in transfers]
    assert sorted(found) == [(0, "sooner", 10.0), (1, "later", 50.0)]
    data["pops"] = []  # the list now names a PoP that is gone: refused by its line
    rows["destination"] = ["b", "p"]
    write_workload(pa.table(rows, schema=WORKLOAD_TRANSFERS), listed)
    with pytest.raises(TwinUserError, match=r"line 3: destination 'p' is not a site or PoP"):
        World(validate_scenario({**data, "links": data["links"][:1]}))
