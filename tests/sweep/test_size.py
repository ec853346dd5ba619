"""`twin size`: the search finds the least value that meets the targets in a few runs, and on
an M/M/c service (real Dask workers) it returns the server count Erlang C gives."""

from __future__ import annotations

import json
import math
import textwrap

import pytest
from click.testing import CliRunner
from queueing_theory import erlang_c

from twin.analysis.stats import mean_interval
from twin.cli import main
from twin.sweep.size_spec import read_size
from twin.sweep.sizing import Evidence, _warnings, evidence_at, grid_values, search

MU, LAMBDA, SLO_S = 50.0, 300.0, 0.06  # service rate per server, arrivals per second, SLO
TARGET = 0.90
SCENARIO = f"""\
name: mmc
start: 2026-06-01
horizon: 20m
accelerators:
  H100: {{bf16_tflops: 989, memory_gb: 80, tdp_w: 700, idle_w: 100}}
sites:
  - {{id: north, country: FI, lat: 64.2, lon: 27.7, pools: [{{accelerator: H100, count: 64}}],
     power_mw: 1.0, pue: 1.1, carbon_gco2_per_kwh: 79, price_eur_per_mwh: 84}}
tenants: {{academia: {{share: 1}}}}
workloads:
  inference:
    window: 10s
    diurnal: [{", ".join(["1"] * 24)}]
    regions: [{{id: oulu, lat: 64.2, lon: 27.7, share: 1}}]  # at the site: no round trip
    services:
      - id: embed
        kind: single
        peak_rps: {LAMBDA}
        service_s: {{dist: exponential, mean: {1 / MU}}}
        servers_per_replica: 1
        slo: {{latency_s: {SLO_S}}}
        replicas: {{north: 1}}
"""
PARAMETER = "workloads.inference.services.embed.replicas.north"


def attainment(servers: int) -> float:
    """P(sojourn <= SLO) in M/M/c FCFS: wait 0 or Exp(c·mu − lambda), plus an Exp(mu)
    service; 0 when unstable."""
    if servers * MU <= LAMBDA:
        return 0.0
    waits, theta = erlang_c(servers, LAMBDA / MU), servers * MU - LAMBDA
    if math.isclose(theta, MU):
        late_if_waited = math.exp(-MU * SLO_S) * (1 + MU * SLO_S)
    else:
        late_if_waited = (theta * math.exp(-MU * SLO_S) - MU * math.exp(-theta * SLO_S)) / (
            theta - MU
        )
    return 1 - ((1 - waits) * math.exp(-MU * SLO_S) + waits * late_if_waited)


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def size_file(tmp_path, **fields: str) -> object:
    write(tmp_path, "mmc.yaml", SCENARIO)
    body = {
        "scenario": "mmc.yaml",
        "parameter": PARAMETER,
        "range": "[1, 32]",
        "targets": f"['inference.embed.slo_attainment >= {TARGET}']",
        "seeds": "3",
        **fields,
    }
    return write(tmp_path, "size.yaml", "".join(f"{k}: {v}\n" for k, v in body.items()))


def test_the_least_server_count_is_erlang_cs(tmp_path):
    expected = next(c for c in range(1, 33) if attainment(c) >= TARGET)
    assert attainment(expected - 1) < TARGET - 0.03 and attainment(expected) > TARGET + 0.02
    path = size_file(tmp_path, metrics="[inference.embed.latency_p99_s]")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["size", str(path), "--out", str(out), "-w", "2", "-q"])
    assert result.exit_code == 0, result.output
    answer = json.loads((out / "size.json").read_text())
    assert answer["answer"] == expected and answer["bracket"] == [expected - 1, expected]
    assert f"= {expected} is the least value" in result.output
    values = [e["value"] for e in answer["evidence"]]
    assert values == sorted(values) and len(values) <= 2 * math.ceil(math.log2(32)) + 1
    for evidence in answer["evidence"]:  # each value's runs agree with the closed form
        measured = evidence["metrics"]["inference.embed.slo_attainment"]["mean"]
        if evidence["value"] * MU > LAMBDA:
            assert measured == pytest.approx(attainment(evidence["value"]), abs=0.01)
        else:  # unstable: the queue grows all run long
            assert measured < TARGET / 2
        assert evidence["feasible"] == (evidence["value"] >= expected)
    runs = sorted((out / "points").iterdir())
    assert len(runs) == 3 * len(values)
    stamps = {run: (run / "manifest.json").stat().st_mtime_ns for run in runs}
    again = CliRunner().invoke(main, ["size", str(path), "--out", str(out), "-w", "1", "-q"])
    assert again.exit_code == 0, again.output
    assert json.loads((out / "size.json").read_text())["answer"] == expected
    assert {run: (run / "manifest.json").stat().st_mtime_ns for run in runs} == stamps


def fake(spec, boundary: float, calls: list):
    """Evidence as if the target metric were ``value - boundary`` on every seed."""

    def evaluate(values):
        calls.extend(values)
        return {
            v: evidence_at(
                spec, v, {"inference.embed.slo_attainment": [v - boundary + TARGET] * 3}, 3
            )
            for v in values
        }

    return evaluate


@pytest.mark.parametrize("boundary", [1, 2, 9, 17, 31, 32])
def test_the_search_finds_the_boundary_in_few_values(tmp_path, boundary):
    spec = read_size(size_file(tmp_path))
    calls: list = []
    answer = search(spec, fake(spec, boundary, calls))
    assert answer.answer == boundary
    assert answer.bracket == (boundary - 1 if boundary > 1 else None, boundary)
    assert len(calls) == len(set(calls)) <= 2 * math.ceil(math.log2(32)) + 1
    assert not answer.warnings


def test_a_target_met_nowhere_in_the_range_is_said_so(tmp_path):
    spec = read_size(size_file(tmp_path))
    answer = search(spec, fake(spec, 40, []))
    assert answer.answer is None and answer.evidence[-1].value == 32
    assert any("no value in [1, 32] meets every target" in w for w in answer.warnings)


def test_a_float_range_is_bisected_to_its_step(tmp_path):
    spec = read_size(size_file(tmp_path, range="[0.5, 10.5]", step="0.25"))
    assert not spec.integer and grid_values(spec)[:3] == [0.5, 0.75, 1.0]
    answer = search(spec, fake(spec, 3.3, []))
    assert answer.answer == 3.5 and answer.bracket == (3.25, 3.5)


def test_a_metric_that_moves_the_wrong_way_is_reported(tmp_path):
    spec = read_size(size_file(tmp_path, range="[1, 8]"))

    def evaluate(values):  # holds from 3 on, but worse at 8 than at 4, beyond the noise
        level = {1: 0.5, 2: 0.6, 3: 0.95, 4: 0.99, 8: 0.92}
        return {
            v: evidence_at(
                spec,
                v,
                {
                    "inference.embed.slo_attainment": [
                        level.get(v, 0.97) + d for d in (0, 1e-3, 2e-3)
                    ]
                },
                3,
            )
            for v in values
        }

    answer = search(spec, evaluate)
    assert answer.answer == 3
    assert not any("not monotone" in w for w in answer.warnings)  # 8 was never run
    notes = _warnings(spec, [evaluate([v])[v] for v in (1, 3, 4, 8)], 3)
    assert any("is not monotone in" in n for n in notes)


def test_the_bound_is_one_sided_at_the_confidence(tmp_path):
    spec = read_size(size_file(tmp_path, confidence="0.9"))
    values = [0.91, 0.93, 0.95]
    evidence: Evidence = evidence_at(spec, 4, {"inference.embed.slo_attainment": values}, 3)
    two_sided_80 = mean_interval(values, 0.8)  # its low end is the one-sided 90% bound
    assert evidence.intervals["inference.embed.slo_attainment"].low == pytest.approx(
        two_sided_80.low
    )
    assert evidence.holds[f"inference.embed.slo_attainment >= {TARGET:g}"] == (
        two_sided_80.low >= TARGET
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"range": "[8, 2]"}, "range: expected [least, most] with least < most"),
        ({"targets": "['inference.embed.slo_attainment > 0.9']"}, "targets[0]: expected"),
        ({"targets": "['inference.emb.slo_attainment >= 0.9']"}, "targets[0]: no service"),
        (
            {"range": "[-1, 4]"},
            "range: workloads.inference.services[0].replicas.north: must be >= 0",
        ),
        ({"parameter": "seed"}, "parameter: seed has a field of its own"),
        ({"confidence": "1.5"}, "confidence:"),
        ({"step": "0"}, "step:"),
    ],
)
def test_a_mistake_in_a_sizing_file_is_reported_with_its_path(tmp_path, fields, message):
    path = size_file(tmp_path, **fields)
    result = CliRunner().invoke(main, ["size", str(path), "--out", str(tmp_path / "o"), "-q"])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_the_shipped_sizing_files_are_valid_and_found_by_name():
    from twin.sweep.size_run import SizeRun
    from twin.sweep.size_spec import builtin_sizings

    assert "tiny_accelerators" in builtin_sizings()
    for name in builtin_sizings():
        spec = read_size(name)
        assert spec.targets and spec.step > 0
        SizeRun(spec, None, None).plan([spec.value(spec.low), spec.value(spec.high)])


def test_an_unknown_sizing_name_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["size", "tiny_acelerators", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "tiny_accelerators" in result.output
    assert "Traceback" not in result.output
