"""Points on a real ``dask.distributed`` cluster (worker processes): every point run once,
re-runs skip what is done, incomplete and foreign runs are run again, a worker killed with
SIGKILL mid-sweep costs nothing but time."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import threading
import time

import pytest
from click.testing import CliRunner
from distributed import Client, LocalCluster

from twin.analysis.stats import mean_interval
from twin.cli import main
from twin.sweep.catalogue import Catalogue
from twin.sweep.cluster import SlurmOptions, slurm_cluster
from twin.sweep.execute import KEY_PREFIX, run_points
from twin.sweep.points import expand
from twin.sweep.results import read_results, write_results
from twin.sweep.spec import read_sweep
from twin.sweep.summary import summarize_sweep
from twin.sweep.table import METRIC
from twin.trace.layout import read_twin_manifest

SWEEP = """\
scenario: tiny
horizon: {horizon}
grid:
  policies.placement: [least_loaded, lowest_carbon]
seeds: {seeds}
metrics: [co2_t, jobs.completed, "jobs.wait_p95_s[tenant=startup]"]
"""


@pytest.fixture(scope="module")
def client():
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def plan(tmp_path, horizon="6h", seeds=3):
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent(SWEEP.format(horizon=horizon, seeds=seeds)))
    return expand(read_sweep(path))


def complete_runs(catalogue):
    """Point folder → whether it holds a complete run."""
    return {
        entry.name: (read_twin_manifest(entry) or {}).get("status") == "complete"
        for entry in catalogue.root.iterdir()
    }


def test_every_point_runs_once_and_a_second_sweep_runs_none(client, tmp_path):
    sweep = plan(tmp_path)
    catalogue = Catalogue.of_sweep(tmp_path / "out")
    tallies = []
    results = run_points(sweep.points, client, catalogue, sweep.spec.metrics, tallies.append)
    assert set(results) == {p.key for p in sweep.points} and len(results) == 6
    assert all(r.status == "complete" and r.ran for r in results.values())
    assert complete_runs(catalogue) == {p.key: True for p in sweep.points}
    assert tallies[-1].done == 6 and tallies[-1].running == 0 and tallies[-1].failed == 0
    assert max(t.running for t in tallies) <= 2  # two single-threaded workers
    again = run_points(sweep.points, client, catalogue, sweep.spec.metrics)
    assert not any(r.ran for r in again.values())
    assert {k: r.metrics for k, r in again.items()} == {k: r.metrics for k, r in results.items()}


def test_an_incomplete_or_foreign_run_in_a_point_folder_is_run_again(client, tmp_path):
    sweep = plan(tmp_path, seeds=2)
    catalogue = Catalogue.of_sweep(tmp_path / "out")
    first = run_points(sweep.points, client, catalogue, sweep.spec.metrics)
    stopped, foreign = sweep.points[0], sweep.points[3]
    manifest = catalogue.run_dir(stopped) / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "status": "incomplete", "reason": "running"}))
    other = catalogue.run_dir(foreign) / "manifest.json"
    other.write_text(json.dumps({**json.loads(other.read_text()), "config_hash": "0" * 64}))
    again = run_points(sweep.points, client, catalogue, sweep.spec.metrics)
    assert {k for k, r in again.items() if r.ran} == {stopped.key, foreign.key}
    assert all(complete_runs(catalogue).values())
    assert again[stopped.key].metrics == first[stopped.key].metrics  # the same seed, the same run


def test_sweeps_in_two_folders_share_the_points_of_a_shared_catalogue(client, tmp_path):
    sweep = plan(tmp_path, seeds=2)
    catalogue = Catalogue.of_sweep(tmp_path / "a", shared=tmp_path / "shared")
    assert catalogue == Catalogue.of_sweep(tmp_path / "b", shared=tmp_path / "shared")
    first = run_points(sweep.points, client, catalogue, sweep.spec.metrics)
    second = run_points(sweep.points, client, catalogue, sweep.spec.metrics)
    assert all(r.ran for r in first.values()) and not any(r.ran for r in second.values())
    table = read_results(write_results(tmp_path / "b", sweep, catalogue, second).parent)
    assert table.column("run").to_pylist() == [f"../shared/{p.key}" for p in sweep.points]


def test_the_table_is_in_point_order_and_the_summary_is_the_t_interval_per_configuration(
    client, tmp_path
):
    sweep = plan(tmp_path)
    out = tmp_path / "out"
    catalogue = Catalogue.of_sweep(out)
    results = run_points(sweep.points, client, catalogue, sweep.spec.metrics)
    table = read_results(write_results(out, sweep, catalogue, results).parent)
    assert table.column("point").to_pylist() == [p.key for p in sweep.points]
    assert table.column("run").to_pylist() == [f"points/{p.key}" for p in sweep.points]
    assert (
        table.column("param:policies.placement").to_pylist()
        == ["least_loaded"] * 3 + ["lowest_carbon"] * 3
    )
    summaries = summarize_sweep(table)
    assert [s.label for s in summaries] == [c.label for c in sweep.configurations]
    for summary, config in zip(summaries, sweep.configurations, strict=True):
        values = [results[p.key].metrics["co2_t"] for p in sweep.points if p.config is config]
        assert summary.metrics["co2_t"] == mean_interval(values)
        assert summary.metrics["co2_t"].n == 3 and summary.complete == 3
    rows = table.to_pylist()
    assert rows[0][METRIC + "co2_t"] == results[sweep.points[0].key].metrics["co2_t"]


def test_a_point_that_cannot_be_written_is_failed_with_its_reason_and_the_rest_run(
    client, tmp_path
):
    sweep = plan(tmp_path, seeds=1)
    out = tmp_path / "out"
    catalogue = Catalogue.of_sweep(out)
    blocked = sweep.points[1]
    catalogue.root.mkdir(parents=True)
    catalogue.run_dir(blocked).write_text("not a folder")
    results = run_points(sweep.points, client, catalogue, sweep.spec.metrics)
    assert results[sweep.points[0].key].status == "complete"
    assert results[blocked.key].status == "failed"
    assert "not a directory" in results[blocked.key].reason
    rows = read_results(write_results(out, sweep, catalogue, results).parent).to_pylist()
    assert [r["status"] for r in rows] == ["complete", "failed"]
    assert rows[1][METRIC + "co2_t"] != rows[1][METRIC + "co2_t"]  # NaN
    assert summarize_sweep(read_results(out))[1].metrics["co2_t"].n == 0


def test_a_point_lost_with_a_killed_worker_is_run_again_and_kept_once(client, tmp_path):
    sweep = plan(tmp_path, horizon="6d", seeds=4)
    catalogue = Catalogue.of_sweep(tmp_path / "out")
    pids = client.run(os.getpid)
    killed: dict[str, str] = {}
    finished = threading.Event()

    def kill_a_worker_while_it_writes_a_point():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not finished.is_set():
            for worker, keys in client.processing().items():
                for key in keys:
                    point = str(key).removeprefix(KEY_PREFIX)
                    manifest = read_twin_manifest(catalogue.root / point) or {}
                    if str(manifest.get("reason")).startswith("running"):  # being written
                        os.kill(pids[worker], signal.SIGKILL)
                        killed.update(worker=worker, point=point)
                        return
            time.sleep(0.005)

    killer = threading.Thread(target=kill_a_worker_while_it_writes_a_point)
    killer.start()
    results = run_points(sweep.points, client, catalogue, sweep.spec.metrics)
    finished.set()
    killer.join()
    assert killed, "no worker was caught writing a point"
    assert pids[killed["worker"]] not in client.run(os.getpid).values()  # a new worker
    assert len(results) == len(sweep.points) == 8
    assert all(r.status == "complete" for r in results.values())
    assert results[killed["point"]].status == "complete"  # the lost point, run elsewhere
    assert complete_runs(catalogue) == {p.key: True for p in sweep.points}  # none extra
    again = run_points(sweep.points, client, catalogue, sweep.spec.metrics)
    assert not any(r.ran for r in again.values())


def test_the_command_runs_on_a_running_scheduler(client, tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP.format(horizon="2h", seeds=2))
    address = client.scheduler.address
    args = ["sweep", str(path), "--out", str(tmp_path / "out"), "--scheduler", address, "-q"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    statuses = read_results(tmp_path / "out").column("status").to_pylist()
    assert statuses == ["complete"] * 4


def test_a_slurm_cluster_asks_for_what_the_options_say():
    options = SlurmOptions(jobs=2, cores=4, memory="8GB", queue="gpu", account="proj")
    with slurm_cluster(SlurmOptions(**{**vars(options), "walltime": "00:30:00"})) as cluster:
        script = cluster.job_script()
    for line in ("#SBATCH -p gpu", "#SBATCH -A proj", "#SBATCH -t 00:30:00", "--cpus-per-task=4"):
        assert line in script
    assert "--nthreads 1" in script and "--nworkers 4" in script
