"""Training trace replay in the model: every job of the trace is submitted once with the
trace's time, size, run time and walltime (after the documented mappings), the clock
mapping (align, window, offset, rate_scale) moves submissions as stated, tenants follow
the mapping rules, a pinned site gets every job, and GPU-hours are conserved."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from config_kit import ACCELERATORS, START, site

from twin.config import ConfigError, validate_scenario
from twin.config.data_files import data_file
from twin.importers import read_workload
from twin.model.job import JobState
from twin.model.world import World, check_policies
from twin.simulation import simulate

LUBLIN = "builtin:lublin_256.swf.gz"
NASA = "builtin:nasa_ipsc_1993.swf.gz"


def scenario(trace: dict[str, Any], *, horizon: str = "400d", **extra: Any):
    data: dict[str, Any] = {
        "name": "replay",
        "start": START,
        "horizon": horizon,
        "seed": 3,
        "accelerators": ACCELERATORS,
        "sites": [site("machine", 256, power_mw=10_000), site("other", 64, lon=20.0)],
        "tenants": {"academia": {"share": 3}, "industry": {"share": 1}},
        "workloads": {"training": {"trace": {"format": "swf", **trace}}},
        "policies": {"scheduler": "fcfs"},
        "telemetry": {"interval": "1d"},
    }
    for key, value in extra.items():
        data[key] = value
    return validate_scenario(data, checks=(check_policies,))


def trace_table(name: str):
    return read_workload("jobs", "swf", data_file(name.removeprefix("builtin:"))).table


def replayed(world: World) -> dict[int, Any]:
    return {job.trace_job: job for job in world.jobs}


def test_a_replay_run_holds_every_job_of_the_trace_exactly_once(tmp_path):
    config = scenario({"file": LUBLIN, "site": "machine", "requested_time": "run_time"})
    simulate(config, out=tmp_path / "run")
    jobs = ipc.open_file(pa.memory_map(str(tmp_path / "run" / "jobs.arrow"))).read_all()
    trace = trace_table(LUBLIN)
    assert jobs.num_rows == trace.num_rows == 10_000
    assert sorted(jobs.column("trace_job").to_pylist()) == sorted(trace.column("job").to_pylist())
    assert len(set(jobs.column("job").to_pylist())) == jobs.num_rows
    by_job = {row["trace_job"]: row for row in jobs.to_pylist()}
    first = min(trace.column("submit_s").to_pylist())
    for row in trace.to_pylist():
        job = by_job[row["job"]]
        assert job["submit_s"] == row["submit_s"] - first  # align: first
        assert job["accelerators"] == row["accelerators"]
        assert job["work_s"] == row["duration_s"]
        assert job["walltime_s"] == row["duration_s"]  # requested time = run time
        assert job["site"] == "machine" and job["state"] == "completed"
        assert job["run_s"] == pytest.approx(row["duration_s"], abs=1e-6)
    # conservation of accelerator-hours: what ran is what the trace asked for
    ran = np.dot(jobs.column("accelerators").to_numpy(), jobs.column("run_s").to_numpy())
    asked = np.dot(trace.column("accelerators").to_numpy(), trace.column("duration_s").to_numpy())
    assert ran == pytest.approx(asked, rel=1e-12)


def run_world(config) -> World:
    world = World(config)
    world.run()
    return world


def test_the_clock_mapping_moves_submissions_as_documented():
    trace = trace_table(NASA)
    submits = dict(zip(trace["job"].to_pylist(), trace["submit_s"].to_pylist(), strict=True))
    first = min(submits.values())  # 0 in this log
    window = {"start": "10d", "end": "20d"}
    config = scenario(
        {"file": NASA, "window": window, "offset": "1h", "rate_scale": 2.0}, horizon="30d"
    )
    world = run_world(config)
    inside = {j: t for j, t in submits.items() if 10 * 86400 <= t - first < 20 * 86400}
    jobs = replayed(world)
    assert set(jobs) == set(inside)
    for number, t in inside.items():
        assert jobs[number].submit_s == pytest.approx(3600 + (t - first - 10 * 86400) / 2)
    zero = run_world(scenario({"file": NASA, "align": "zero"}, horizon="2d"))
    assert {j: job.submit_s for j, job in replayed(zero).items()} == {
        j: t for j, t in submits.items() if t < 2 * 86400
    }


def test_jobs_past_the_horizon_are_not_submitted():
    world = run_world(scenario({"file": LUBLIN}, horizon="10d"))
    trace = trace_table(LUBLIN)
    times = trace.column("submit_s").to_numpy()
    assert len(world.jobs) == int(np.sum(times - times.min() < 10 * 86400))


def test_tenants_follow_the_mapping_rules():
    trace = trace_table(NASA)
    users = dict(zip(trace["job"].to_pylist(), trace["user"].to_pylist(), strict=True))
    mapped = run_world(
        scenario(
            {"file": NASA, "tenants": {"1": "industry"}, "tenant_default": "academia"},
            horizon="3d",
        )
    )
    for number, job in replayed(mapped).items():
        assert job.tenant == ("industry" if users[number] == "1" else "academia")
    shares = run_world(scenario({"file": NASA}, horizon="20d"))
    by_user: dict[str, set[str]] = {}
    for number, job in replayed(shares).items():
        by_user.setdefault(users[number], set()).add(job.tenant)
    assert all(len(classes) == 1 for classes in by_user.values())  # one class per user
    assert {c for classes in by_user.values() for c in classes} == {"academia", "industry"}
    # Lublin names no users: each job is drawn on its own, in proportion to the shares 3:1
    lublin = run_world(scenario({"file": LUBLIN}, horizon="60d"))
    share = np.mean([job.tenant == "academia" for job in lublin.jobs])
    n = len(lublin.jobs)
    assert abs(share - 0.75) < 4 * np.sqrt(0.75 * 0.25 / n)


def test_a_pinned_trace_runs_at_its_site_and_the_broker_spreads_an_unpinned_one():
    pinned = run_world(scenario({"file": NASA, "site": "other"}, horizon="5d"))
    fits = [job for job in pinned.jobs if job.accelerators <= 64]
    assert fits and {job.site for job in fits} == {"other"}
    too_big = [job for job in pinned.jobs if job.accelerators > 64]  # 128-node jobs
    assert too_big and all(job.state is JobState.REJECTED for job in too_big)
    assert "largest pool has 64" in too_big[0].reason
    free = run_world(scenario({"file": NASA}, horizon="5d", policies={"placement": "least_loaded"}))
    assert {job.site for job in free.jobs} == {"machine", "other"}


def test_a_trace_replays_beside_the_synthetic_stream_with_one_numbering():
    config = scenario({"file": NASA}, horizon="2d")
    data = config.model_dump(mode="json", exclude_none=True)
    data["workloads"]["training"] |= {
        "arrivals_per_day": 50,
        "accelerators": {"dist": "constant", "value": 2},
        "duration_s": {"dist": "constant", "value": 600},
    }
    world = run_world(validate_scenario(data, checks=(check_policies,)))
    traced = [job for job in world.jobs if job.trace_job is not None]
    synthetic = [job for job in world.jobs if job.trace_job is None]
    assert traced and synthetic
    assert sorted(job.id for job in world.jobs) == list(range(len(world.jobs)))
    assert all(job.accelerators == 2 and job.work_s == 600 for job in synthetic)


def test_statuses_select_the_jobs_replayed():
    # Lublin's jobs all completed (SWF status 1); NASA's status is unknown (-1)
    assert run_world(scenario({"file": LUBLIN, "statuses": ["failed"]}, horizon="2d")).jobs == []
    everything = run_world(scenario({"file": LUBLIN}, horizon="2d")).jobs
    kept = run_world(scenario({"file": LUBLIN, "statuses": ["failed", "completed"]}, horizon="2d"))
    assert len(kept.jobs) == len(everything) > 0
    unknown = run_world(scenario({"file": NASA, "statuses": ["unknown"]}, horizon="1d")).jobs
    assert len(unknown) == len(run_world(scenario({"file": NASA}, horizon="1d")).jobs) > 0


@pytest.mark.parametrize(
    ("trace", "path", "words"),
    [
        ({"file": NASA, "tenants": {"1": "nobody"}}, "trace.tenants.1", "unknown tenant class"),
        ({"file": NASA, "tenant_default": "ghosts"}, "trace.tenant_default", "ghosts"),
        ({"file": NASA, "site": "atlantis"}, "trace.site", "unknown site"),
        ({"file": NASA, "site": ["machine", "atlantis"]}, "trace.site[1]", "'atlantis'"),
        ({"file": "builtin:none.swf"}, "trace.file", "no built-in data file"),
    ],
)
def test_a_bad_mapping_is_a_config_error_with_its_path(trace, path, words):
    with pytest.raises(ConfigError) as caught:
        World(scenario(trace, horizon="1d"))
    issue = caught.value.issues[0]
    assert issue.path == f"workloads.training.{path}" and words in issue.message


def test_synthetic_keys_come_all_together_or_not_at_all():
    with pytest.raises(ConfigError, match="missing accelerators, duration_s"):
        validate_scenario(
            {
                "name": "x",
                "start": START,
                "horizon": "1d",
                "accelerators": ACCELERATORS,
                "sites": [site("a")],
                "tenants": {"t": {"share": 1}},
                "workloads": {"training": {"arrivals_per_day": 3}},
            }
        )


def test_a_trace_may_name_the_accelerator_types_a_job_runs_on(tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text(
        "submit_s,accelerators,duration_s,accelerator_types\n"
        "0,4,100,A100\n10,4,100,H100|A100\n20,4,100,\n"
    )
    config = scenario({"file": str(path), "format": "csv"}, horizon="1d")
    data = config.model_dump(mode="json", exclude_none=True)
    data["sites"] = [site("h", 64, "H100"), site("a", 64, "A100", lon=20.0)]
    world = run_world(validate_scenario(data, checks=(check_policies,)))
    jobs = {job.trace_job: job for job in world.jobs}
    assert jobs[1].allowed_types == ("A100",) and jobs[1].site == "a"
    assert jobs[2].allowed_types == ("H100", "A100")
    assert jobs[3].allowed_types is None
    path.write_text("submit_s,accelerators,duration_s,accelerator_types\n0,4,100,TPUv5\n")
    with pytest.raises(ConfigError) as caught:
        World(validate_scenario(data, checks=(check_policies,)))
    issue = caught.value.issues[0]
    assert issue.path == "workloads.training.trace.file"
    assert "line 2: unknown accelerator type 'TPUv5'" in issue.message
