"""The CLI as a planner reads it: progress lines outside a terminal, runs that say how they
were made, what-ifs with descriptions, a summary that is a pure function of the run, and an
interrupted run's summary that says how far it got and what was still in the system."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import yaml

from twin.config import builtin_scenarios, builtin_whatifs
from twin.config.loader import whatif_description
from twin.trace.reader import open_run

TWIN = [sys.executable, "-m", "twin"]


def twin(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*TWIN, *args], capture_output=True, text=True, check=False, env=env or os.environ
    )


def test_a_run_outside_a_terminal_prints_progress_lines_and_records_how_it_was_made(tmp_path):
    out = tmp_path / "run"
    result = twin("run", "tiny", "--whatif", "green_placement", "--set", "seed=4", "-o", str(out))
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("tiny: ")]
    assert [line.split()[1] for line in lines] == [f"{10 * k}%" for k in range(1, 11)]
    assert "of 1d simulated" in lines[0] and "left" in lines[0] and "elapsed" in lines[-1]
    manifest = open_run(out).manifest
    assert manifest["source"] == "tiny"
    assert manifest["whatifs"] == ["green_placement"]
    assert manifest["overrides"] == ["seed=4"]
    assert manifest["command"].startswith("twin run tiny --whatif green_placement")
    assert "what-ifs: green_placement" in result.stdout and "seed 4" in result.stdout


def test_scenarios_lists_every_what_if_with_its_description():
    result = twin("scenarios")
    assert result.returncode == 0, result.stderr
    for name, path in builtin_whatifs().items():
        description = whatif_description(path)
        assert len(description) > 20, name
        assert name in result.stdout
        assert description.split()[0] in result.stdout
    assert "What-if:" not in result.stdout


def test_summary_json_is_the_same_on_every_call(tmp_path):
    data = yaml.safe_load(builtin_scenarios()["tiny"].read_text())
    data["horizon"] = "2h"
    data["workloads"]["inference"] = {
        "window": "60s",
        "regions": [{"id": "rome", "lat": 41.9, "lon": 12.5, "share": 1}],
        "services": [
            {
                "id": "embed",
                "kind": "single",
                "peak_rps": 200,
                "service_s": {"dist": "exponential", "mean": 0.02},
                "servers_per_replica": 2,
                "slo": {"latency_s": 0.05},
                "replicas": {"north": 1, "south": 1},
            }
        ],
    }
    config = tmp_path / "with_inference.yaml"
    config.write_text(yaml.safe_dump(data))
    out = tmp_path / "run"
    assert twin("run", str(config), "-q", "-o", str(out)).returncode == 0
    outputs = [
        twin("summary", str(out), "--json", env={**os.environ, "PYTHONHASHSEED": str(seed)})
        for seed in range(4)
    ]
    assert all(result.returncode == 0 for result in outputs)
    assert len({result.stdout for result in outputs}) == 1
    assert json.loads(outputs[0].stdout)["services"][0]["latency_p99_ms"] > 0


def test_an_interrupted_run_reports_the_span_it_reached_and_the_jobs_in_the_system(tmp_path):
    out = tmp_path / "stopped"
    process = subprocess.Popen(
        [*TWIN, "run", "europe", "--horizon", "1d", "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("europe: 20%"):
            process.send_signal(signal.SIGINT)
            break
    process.communicate(timeout=120)
    assert process.returncode == 130
    summary = json.loads(twin("summary", str(out), "--json").stdout)
    assert summary["status"] == "incomplete"
    assert 0.2 * 86400 <= summary["simulated_s"] < 86400
    states = summary["jobs_by_state"]
    assert states.get("running", 0) > 0  # still running at the stop, not dropped
    assert sum(states.values()) == open_run(out).manifest["jobs_submitted"]
    text = twin("summary", str(out)).stdout
    assert "of 1d" in text.splitlines()[0] and "incomplete" in text.splitlines()[0]
