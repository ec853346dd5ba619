"""Comparisons of groups of runs: what is noise, what is better or worse, how seeds pair
runs (common random numbers) and why that narrows the interval, and the honesty checks."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pyarrow.ipc as ipc
import pytest
import yaml
from scipy import stats as scipy_stats

from twin.analysis.compare import BETTER, NOISE, ONE_SEED, PAIRED, UNPAIRED, WORSE, compare
from twin.analysis.groups import CompareError, run_group
from twin.analysis.metrics import MetricError
from twin.analysis.stats import mean_interval, welch_difference
from twin.config import builtin_scenarios, validate_scenario
from twin.simulation import simulate
from twin.sweep.groups import resolve_group, resolve_groups
from twin.trace.reader import open_run

WAITS = ("jobs.wait_mean_s", "jobs.wait_p95_s")
FCFS = ("policies.scheduler=fcfs",)
HALF = ("sites.north.pools[0].count=32", "sites.south.pools[0].count=64")


def test_the_same_runs_twice_differ_by_exactly_nothing(runs):
    """A folder and the sweep configuration holding the same runs (same config, same
    seeds): every difference is 0 ± 0, and every one is noise."""
    result = compare(resolve_groups([str(runs["base"]), f"{runs['sweep']}@base"]))
    assert len(result.rows) == 6  # tiny has no inference service
    for row in result.rows:
        (delta,) = row.deltas
        assert delta.method == PAIRED and delta.delta.n == 4
        assert delta.delta.mean == 0 and delta.delta.half_width == 0
        assert delta.mark == NOISE


def test_half_the_accelerators_is_distinguishable_and_worse_for_waits(runs):
    result = compare(resolve_groups([str(runs["base"]), str(runs["half"])]))
    rows = {row.metric.name: row for row in result.rows}
    for name in WAITS:
        (delta,) = rows[name].deltas
        assert delta.delta.low > 0, name  # longer waits, beyond noise
        assert delta.mark == WORSE and delta.distinguishable
    (energy,) = rows["energy_mwh"].deltas
    assert energy.delta.high < 0 and energy.mark == BETTER  # fewer accelerators draw less


def test_direction_not_sign_decides_better_or_worse(runs):
    """Fewer completed jobs is worse (a negative delta), fewer waits better: swap the groups
    and the marks swap with the signs."""
    names = ["jobs.completed", "jobs.wait_mean_s"]
    half_first = compare(resolve_groups([str(runs["half"]), str(runs["base"])]), names)
    completed, waits = (row.deltas[0] for row in half_first.rows)
    assert waits.delta.high < 0 and waits.mark == BETTER
    assert completed.delta.low > 0 and completed.mark == BETTER
    base_first = compare(resolve_groups([str(runs["base"]), str(runs["half"])]), names)
    completed, waits = (row.deltas[0] for row in base_first.rows)
    assert completed.delta.high < 0 and completed.mark == WORSE


def test_same_seed_same_arrivals_whatever_the_scheduler(runs):
    """The named streams: with one policy changed and the seed kept, the submitted jobs are
    the same (tenant, accelerators, submit time, work), though what happens to them is not."""
    columns = ["job", "tenant", "accelerators", "submit_s", "work_s", "dataset_gb"]
    started_differently = False
    for seed in (1, 2, 3, 4):
        base = open_run(runs["base"] / f"seed-{seed}").table("jobs").sort_by("job")
        fcfs = open_run(runs["fcfs"] / f"seed-{seed}").table("jobs").sort_by("job")
        assert base.select(columns).equals(fcfs.select(columns))
        started_differently |= not base.column("start_s").equals(fcfs.column("start_s"))
    assert started_differently  # the policy did change something


def test_pairing_by_seed_narrows_the_interval(runs):
    """On the same runs, the paired interval of fcfs − easy_backfill is narrower than the
    unpaired (Welch) one on every headline metric (here 1.6-3.3 times, though the paired t
    quantile, with 3 degrees of freedom, is the larger): common random numbers cancel the
    noise both configurations share."""
    groups = [run_group(runs["base"]), run_group(runs["fcfs"])]
    paired = compare(groups)
    for row in paired.rows:
        name, (delta,) = row.metric.name, row.deltas
        base, other = (list(g.values([name])[name].values()) for g in groups)
        unpaired = welch_difference(base, other)
        assert delta.method == PAIRED and delta.delta.n == 4
        assert delta.delta.mean == pytest.approx(unpaired.mean)
        assert delta.delta.half_width < unpaired.half_width / 1.5, name


def test_no_common_seeds_means_unpaired_and_a_note(runs, kit, tmp_path):
    other = kit.run_seeds(tmp_path / "fcfs-later", FCFS, seeds=(5, 6, 7))
    result = compare([run_group(runs["base"]), run_group(other)], ["energy_mwh"])
    (delta,) = result.rows[0].deltas
    assert delta.method == UNPAIRED and not math.isnan(delta.delta.half_width)
    assert any("pairing is impossible" in note for note in result.notes)


def test_one_seed_cannot_tell_noise(runs):
    result = compare([run_group(runs["base"]), run_group(runs["half"] / "seed-1")])
    for row in result.rows:
        assert row.deltas[0].mark == ONE_SEED
        assert math.isnan(row.deltas[0].delta.half_width)
    assert any("1 seed" in note for note in result.notes)


def test_welch_interval_matches_scipy():
    """The unpaired interval against scipy's Welch t-test (an independent implementation)."""
    rng = np.random.default_rng(3)
    a, b = rng.normal(10, 1, 6), rng.normal(11, 3, 9)
    ours = welch_difference(list(a), list(b), 0.9)
    theirs = scipy_stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.9)
    assert ours.low == pytest.approx(theirs.low) and ours.high == pytest.approx(theirs.high)


def test_group_means_are_the_student_t_interval_of_the_seeds(runs):
    result = compare([run_group(runs["base"])], ["co2_t"])
    values = list(run_group(runs["base"]).values(["co2_t"])["co2_t"].values())
    expected = mean_interval(values)
    assert result.rows[0].baseline == expected
    half = scipy_stats.t.ppf(0.975, 3) * np.std(values, ddof=1) / 2
    assert expected.half_width == pytest.approx(half)


# ---------------------------------------------------------------- sweep groups


def test_a_sweep_is_a_group_per_configuration_with_its_table_values(runs):
    groups = resolve_group(str(runs["sweep"]))
    assert [g.name.rpartition("@")[2] for g in groups] == ["base", FCFS[0], ", ".join(HALF)]
    assert all(g.seeds == [1, 2, 3, 4] for g in groups)
    # jobs.wait_mean_s is in the table, energy_mwh is measured from the points' runs
    from_sweep = groups[2].values(["jobs.wait_mean_s", "energy_mwh"])
    from_runs = run_group(runs["half"]).values(["jobs.wait_mean_s", "energy_mwh"])
    assert from_sweep == from_runs


def test_a_configuration_by_label_spaces_optional_or_by_id(runs):
    sweep = str(runs["sweep"])
    (half,) = resolve_group(f"{sweep}@" + ",".join(HALF))
    assert half.name == f"{sweep}@" + ", ".join(HALF)
    rows = ipc.open_file(str(runs["sweep"] / "sweep.arrow")).read_all().to_pylist()
    config_id = next(row["config"] for row in rows if row["label"] == ", ".join(HALF))
    assert resolve_group(f"{sweep}@{config_id}")[0].name == half.name
    assert resolve_group(f"{sweep}@{config_id[:5]}")[0].name == half.name


def test_a_failed_point_is_refused_and_left_out_when_forced(kit, tmp_path):
    sweep = kit.write_sweep(
        tmp_path / "sweep", {"base": (), FCFS[0]: FCFS}, seeds=(1, 2, 3), failed=[(FCFS[0], 2)]
    )
    groups = resolve_group(str(sweep))
    with pytest.raises(CompareError, match=r"1 of 3 runs not complete: .* is failed \(Memory"):
        compare(groups)
    forced = compare(groups, ["jobs.wait_mean_s", "energy_mwh"], force=True)
    for row in forced.rows:  # in the table (wait) or measured from the points' runs (energy)
        (delta,) = row.deltas
        assert delta.value.n == 2 and delta.delta.n == 2 and delta.warnings


def test_a_label_may_hold_the_separator(kit, tmp_path):
    sweep = kit.write_sweep(tmp_path / "s", {"name=team@lab": (), "base": ()}, seeds=(1,))
    (group,) = resolve_group(f"{sweep}@name=team@lab")
    assert group.name == f"{sweep}@name=team@lab"


def test_an_unknown_configuration_gets_a_did_you_mean(runs):
    with pytest.raises(
        CompareError,
        match=r"no configuration 'policies.scheduler=fcfx'.*did "
        r"you mean 'policies.scheduler=fcfs'",
    ):
        resolve_group(f"{runs['sweep']}@policies.scheduler=fcfx")


def test_an_unknown_metric_is_a_metric_error(runs):
    with pytest.raises(MetricError, match=r"did you mean 'jobs\.wait_mean_s'"):
        compare([run_group(runs["base"])], ["jobs.wait_mea_s"])


# ---------------------------------------------------------------- honesty checks


def test_runs_of_different_horizons_are_refused_then_forced_with_warnings(runs, kit, tmp_path):
    short = tmp_path / "short"
    kit.run_tiny(short / "seed-1", 1, horizon="6h")
    kit.run_tiny(short / "seed-2", 2, horizon="6h")
    groups = [run_group(runs["base"]), run_group(short)]
    with pytest.raises(
        CompareError,
        match=r"horizon differs: 43200 s \(12 h\) in .*base, "
        r"21600 s \(6 h\) in .*short",
    ):
        compare(groups)
    forced = compare(groups, force=True)
    assert forced.issues
    assert all("horizon differs" in row.deltas[0].warnings[0] for row in forced.rows)


def test_an_incomplete_run_is_refused_and_named(runs, kit, tmp_path):
    folder = tmp_path / "stopped"
    shutil.copytree(runs["fcfs"], folder)
    kit.set_manifest(folder / "seed-3", status="incomplete", reason="interrupted by SIGTERM")
    with pytest.raises(
        CompareError,
        match=r"1 of 4 runs not complete: .*seed-3 is incomplete "
        r"\(interrupted by SIGTERM\)",
    ):
        compare([run_group(runs["base"]), run_group(folder)])
    forced = compare([run_group(runs["base"]), run_group(folder)], force=True)
    assert all(row.deltas[0].warnings for row in forced.rows)


def test_another_twin_version_in_the_baseline_affects_every_row(runs, kit, tmp_path):
    folder = tmp_path / "old"
    shutil.copytree(runs["base"], folder)
    kit.set_manifest(folder / "seed-1", twin_version="0.0.1")
    groups = [run_group(folder), run_group(runs["fcfs"]), run_group(runs["half"])]
    with pytest.raises(CompareError, match="twin version differs within"):
        compare(groups)
    forced = compare(groups, force=True)
    assert all(d.warnings for row in forced.rows for d in row.deltas)


def test_a_folder_of_different_configurations_is_not_a_group(runs, tmp_path):
    mixed = tmp_path / "mixed"
    shutil.copytree(runs["base"] / "seed-1", mixed / "a")
    shutil.copytree(runs["half"] / "seed-2", mixed / "b")
    with pytest.raises(CompareError, match="is not one configuration"):
        run_group(mixed)


def test_a_seed_twice_in_a_group_is_refused(runs, tmp_path):
    twice = tmp_path / "twice"
    shutil.copytree(runs["base"] / "seed-1", twice / "a")
    shutil.copytree(runs["base"] / "seed-1", twice / "b")
    with pytest.raises(CompareError, match="two runs with seed 1"):
        run_group(twice)


def test_default_metrics_follow_what_the_runs_hold(tmp_path):
    """Without training jobs no job metric; each inference service's SLO attainment."""
    data = yaml.safe_load(builtin_scenarios()["tiny"].read_text())
    data["horizon"] = "1h"
    data["workloads"] = {
        "inference": {
            "window": "60s",
            "regions": [{"id": "rome", "lat": 41.9, "lon": 12.5, "share": 1}],
            "services": [
                {
                    "id": "embed",
                    "kind": "single",
                    "peak_rps": 50,
                    "service_s": {"dist": "exponential", "mean": 0.02},
                    "slo": {"latency_s": 0.05},
                    "replicas": {"north": 1},
                }
            ],
        }
    }
    for seed in (1, 2):
        simulate(validate_scenario({**data, "seed": seed}), tmp_path / "inference" / str(seed))
    result = compare([run_group(tmp_path / "inference")])
    names = [row.metric.name for row in result.rows]
    assert names == ["energy_mwh", "co2_t", "cost_eur", "inference.embed.slo_attainment"]
    assert 0 < result.rows[-1].baseline.mean <= 1


def test_another_start_date_is_refused(runs, kit, tmp_path):
    """Runs that start on another date see other hours of the carbon and price profiles."""
    folder = tmp_path / "later"
    shutil.copytree(runs["fcfs"], folder)
    for seed in (1, 2, 3, 4):
        kit.set_manifest(folder / f"seed-{seed}", start="2026-06-01T00:00:00")
    with pytest.raises(CompareError, match=r"start differs: 2026-03-02.* in .*base, 2026-06-01"):
        compare([run_group(runs["base"]), run_group(folder)])
