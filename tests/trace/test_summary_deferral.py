"""The deferral figures of `twin summary` agree with the jobs table they come from, and runs
without deferrable jobs (or written before them) have none."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from twin.config import builtin_scenarios, validate_scenario
from twin.simulation import simulate
from twin.trace.reader import open_run
from twin.trace.summary import summarize


def tiny(tmp_path, **training) -> object:
    data = yaml.safe_load(builtin_scenarios()["tiny"].read_text())
    data["horizon"] = "1d"
    data["sites"][0]["carbon_gco2_per_kwh"] = [40.0] * 6 + [500.0] * 18
    data["workloads"]["training"].update(training)
    data["policies"] = {**data.get("policies", {}), "start": "carbon_aware"}
    out = tmp_path / "run"
    simulate(validate_scenario(data), out)
    return open_run(out)


def test_deferral_figures_match_the_jobs_table(tmp_path):
    run = tiny(tmp_path, deferrable={"share": 0.5, "slack": "12h"})
    books = summarize(run).deferral
    jobs = run.table("jobs").to_pandas()
    mine = jobs[jobs.deadline_s.notna()]
    assert books["deferrable"] == len(mine) > 0
    assert books["deferred"] == mine.deferred_s.notna().sum() > 0
    assert books["deferred_mean_s"] == pytest.approx(mine.deferred_s.mean())
    assert books["deferred_max_s"] == pytest.approx(mine.deferred_s.max())
    assert books["wait_mean_s"] == pytest.approx(mine.wait_s.mean())
    late_started = (mine.start_s > mine.deadline_s).sum()
    waiting = mine.state.isin(["submitted", "staging", "queued", "held"])
    late_waiting = (mine.start_s.isna() & waiting & (mine.deadline_s < run.manifest["end_s"])).sum()
    assert books["deadline_missed"] == late_started + late_waiting
    energy = mine.energy_mwh.sum()
    assert books["gco2_per_kwh"] == pytest.approx(mine.co2_t.sum() * 1e6 / (energy * 1e3))
    assert books["eur_per_mwh"] == pytest.approx(mine.cost_eur.sum() / energy)
    # carbon-aware: the deferrable jobs' energy is cleaner than the others'
    others = jobs[jobs.deadline_s.isna() & (jobs.energy_mwh > 0)]
    assert books["gco2_per_kwh"] < others.co2_t.sum() * 1e3 / others.energy_mwh.sum()
    assert np.all(mine.deferred_s.fillna(0.0) <= mine.deadline_s - mine.submit_s)


def test_a_run_without_deferrable_jobs_has_no_deferral_figures(tmp_path):
    run = tiny(tmp_path)
    assert summarize(run).deferral == {}
