"""Grid series and power schedules of ``sites[]`` through ``twin validate``: a bad file or key
exits 2 with the field's path, the file (and line) and what was expected, never a
traceback; relative files resolve from the YAML's folder; good series pass."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import gzip
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from twin.cli import main
from twin.config import builtin_scenarios, load_config, load_raw
from twin.config.errors import ConfigError

TINY = yaml.safe_load(builtin_scenarios()["tiny"].read_text())  # 2026-03-02, 1 day
HOURS_2026_03_02 = [f"2026-03-02T{h:02d}:00:00Z" for h in range(24)] + ["2026-03-03T00:00:00Z"]


def hourly_csv(path, values=None, stamps=HOURS_2026_03_02, header="time,value") -> str:
    values = values if values is not None else [100 + h for h in range(len(stamps))]
    lines = [header] + [f"{s},{v}" for s, v in zip(stamps, values, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path.name


def validate(tmp_path, site: dict[str, Any], *extra: str) -> Any:
    data = copy.deepcopy(TINY)
    data["sites"][0].update(site)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return CliRunner().invoke(main, ["validate", str(path), *extra])


def assert_refused(result, *says: str) -> None:
    assert result.exit_code == 2, result.output
    for text in says:
        assert text in result.output, result.output
    assert "Traceback" not in result.output


def test_an_hourly_csv_a_gzipped_one_and_a_parquet_file_pass(tmp_path) -> None:
    name = hourly_csv(tmp_path / "carbon.csv")
    raw = (tmp_path / "carbon.csv").read_bytes()
    (tmp_path / "price.csv.gz").write_bytes(gzip.compress(raw))
    moments = [dt.datetime.fromisoformat(s.replace("Z", "+00:00")) for s in HOURS_2026_03_02]
    table = pa.table(
        {"when": pa.array(moments, pa.timestamp("s", tz="UTC")), "power_mw": [50.0] * 25}
    )
    pq.write_table(table, tmp_path / "cap.parquet")
    site = {
        "carbon_gco2_per_kwh": {"series": name},
        "price_eur_per_mwh": {"series": "price.csv.gz", "scale": 0.5},
        "power_mw": {"series": "cap.parquet"},
    }
    result = validate(tmp_path, site)
    assert result.exit_code == 0, result.output


def test_timestamps_with_offsets_are_read_as_their_utc_instants(tmp_path) -> None:
    """01:00+01:00 is 00:00 UTC: a series in Paris time covers the UTC day."""
    local = [f"2026-03-02T{h:02d}:00:00+01:00" for h in range(1, 24)]
    local += ["2026-03-03T00:00:00+01:00", "2026-03-03T01:00:00+01:00"]
    name = hourly_csv(tmp_path / "paris.csv", stamps=local)
    result = validate(tmp_path, {"carbon_gco2_per_kwh": {"series": name}})
    assert result.exit_code == 0, result.output


def test_relative_series_files_resolve_from_the_yaml_folder(tmp_path) -> None:
    (tmp_path / "grids").mkdir()
    data = copy.deepcopy(TINY)
    data["sites"][0]["carbon_gco2_per_kwh"] = {"series": "grids/fr.csv"}
    data["sites"][1]["price_eur_per_mwh"] = {"series": "builtin:grid_2025_fr.csv.gz"}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    raw = load_raw(tmp_path / "s.yaml")
    assert raw["sites"][0]["carbon_gco2_per_kwh"]["series"] == str(tmp_path / "grids/fr.csv")
    assert raw["sites"][1]["price_eur_per_mwh"]["series"] == "builtin:grid_2025_fr.csv.gz"


def test_a_series_that_does_not_cover_the_run_names_both_spans(tmp_path) -> None:
    name = hourly_csv(tmp_path / "short.csv", stamps=HOURS_2026_03_02[:13])
    result = validate(tmp_path, {"carbon_gco2_per_kwh": {"series": name}})
    assert_refused(
        result,
        "sites[0].carbon_gco2_per_kwh.series",
        "short.csv covers 2026-03-02T00:00Z to 2026-03-02T13:00Z",
        "the run needs 2026-03-02T00:00Z to 2026-03-03T00:00Z",
        "repeat: true",
    )


def test_a_builtin_year_covers_another_year_only_when_it_repeats(tmp_path) -> None:
    spec = {"series": "builtin:grid_2025_de.csv.gz"}
    assert_refused(validate(tmp_path, {"carbon_gco2_per_kwh": spec}), "covers 2025-01-01T00:00Z")
    repeated = validate(tmp_path, {"carbon_gco2_per_kwh": {**spec, "repeat": True}})
    assert repeated.exit_code == 0, repeated.output


@pytest.mark.parametrize(
    ("stamps", "values", "says"),
    [
        (
            [*HOURS_2026_03_02[:3], HOURS_2026_03_02[1], *HOURS_2026_03_02[4:]],
            None,
            "line 5: timestamp 2026-03-02T01:00:00Z comes before the one of line 4",
        ),
        (
            [*HOURS_2026_03_02[:3], HOURS_2026_03_02[2], *HOURS_2026_03_02[4:]],
            None,
            "line 5: timestamp 2026-03-02T02:00:00Z repeats the one of line 4",
        ),
        (HOURS_2026_03_02, [1.0] * 6 + ["lots"] + [1.0] * 18, "line 8: value: expected a number"),
        (HOURS_2026_03_02, [1.0] * 3 + ["nan"] + [1.0] * 21, "line 5: value: expected a finite"),
        (HOURS_2026_03_02, [1.0] * 9 + [-3.0] + [1.0] * 15, "line 11: value -3 is negative"),
        (["yesterday", *HOURS_2026_03_02[1:]], None, "line 2: timestamp: expected ISO 8601"),
    ],
)
def test_bad_rows_are_refused_with_their_line(tmp_path, stamps, values, says) -> None:
    name = hourly_csv(tmp_path / "bad.csv", values, stamps)
    result = validate(tmp_path, {"carbon_gco2_per_kwh": {"series": name}})
    assert_refused(result, "sites[0].carbon_gco2_per_kwh.series", "bad.csv", says)


def test_negative_prices_are_fine(tmp_path) -> None:
    name = hourly_csv(tmp_path / "price.csv", [-50.0 + h for h in range(25)])
    result = validate(tmp_path, {"price_eur_per_mwh": {"series": name}})
    assert result.exit_code == 0, result.output


def test_missing_files_and_columns_are_named(tmp_path) -> None:
    assert_refused(
        validate(tmp_path, {"carbon_gco2_per_kwh": {"series": "nowhere.csv"}}),
        "sites[0].carbon_gco2_per_kwh.series",
        "no such",
        "nowhere.csv",
    )
    name = hourly_csv(tmp_path / "c.csv")
    assert_refused(
        validate(tmp_path, {"carbon_gco2_per_kwh": {"series": name, "column": "gco2"}}),
        "no column gco2 (has: time, value)",
    )
    three = hourly_csv(tmp_path / "three.csv", [f"{h},{h}" for h in range(25)], header="t,a,b")
    assert_refused(
        validate(tmp_path, {"carbon_gco2_per_kwh": {"series": three}}),
        "no column carbon_gco2_per_kwh and 2 columns besides t: give column",
    )
    assert_refused(
        validate(tmp_path, {"carbon_gco2_per_kwh": {"series": "builtin:nothing.csv"}}),
        "no built-in data file",
    )


def test_the_default_column_is_the_one_named_as_the_field(tmp_path) -> None:
    year = load_config("tiny", overrides=[_set("builtin:grid_2025_pl.csv.gz", repeat=True)])
    assert year.sites[0].carbon_gco2_per_kwh.column is None  # the file's own column
    assert year.sites[0].carbon_gco2_per_kwh.repeat


def _set(series: str, repeat: bool) -> str:
    return f"sites[0].carbon_gco2_per_kwh={{series: '{series}', repeat: {str(repeat).lower()}}}"


@pytest.mark.parametrize(
    ("site", "where", "says"),
    [
        ({"power_mw": [{"at": "1h", "power_mw": 5}]}, "sites[0].power_mw[0].at", "expected 0"),
        (
            {
                "power_mw": [
                    {"at": 0, "power_mw": 5},
                    {"at": "2h", "power_mw": 3},
                    {"at": "1h", "power_mw": 4},
                ]
            },
            "sites[0].power_mw[2].at",
            "increasing order of at",
        ),
        ({"power_mw": [{"at": 0, "power_mw": -1}]}, "sites[0].power_mw[0].power_mw", "> 0"),
        ({"power_mw": "lots"}, "sites[0].power_mw", "valid number"),
        ({"carbon_gco2_per_kwh": {"series": "x.csv", "scale": 0}}, "scale", "> 0"),
        ({"carbon_gco2_per_kwh": {"series": "x.csv", "colum": "v"}}, "colum", "unknown key"),
        ({"price_eur_per_mwh": [1.0, 2.0]}, "sites[0].price_eur_per_mwh", "24 items"),
        ({"power_cap_policy": "shed"}, "sites[0].power_cap_policy", "drain"),
    ],
)
def test_key_mistakes_name_their_path(tmp_path, site, where, says) -> None:
    assert_refused(validate(tmp_path, site), where, says)


def test_a_power_series_must_stay_above_zero(tmp_path) -> None:
    name = hourly_csv(tmp_path / "cap.csv", [5.0] * 12 + [0.0] * 13)
    assert_refused(
        validate(tmp_path, {"power_mw": {"series": name}}),
        "sites[0].power_mw.series",
        "line 14: value 0 is not above 0 (and 12 more)",
    )


def test_a_series_longer_than_the_bound_needs_large_input(tmp_path, monkeypatch) -> None:
    from twin.config import grid_checks

    bounds = dataclasses.replace(grid_checks.WorkBounds(), series_steps=10.0)
    monkeypatch.setattr(grid_checks, "WorkBounds", lambda: bounds)
    name = hourly_csv(tmp_path / "c.csv")
    assert_refused(
        validate(tmp_path, {"carbon_gco2_per_kwh": {"series": name}}),
        "c.csv holds 25 steps, more than 10",
        "--large-input",
    )
    passed = validate(tmp_path, {"carbon_gco2_per_kwh": {"series": name}}, "--large-input")
    assert passed.exit_code == 0, passed.output


def test_a_scenario_built_without_the_loader_is_refused_by_the_model(tmp_path) -> None:
    from twin.config import validate_scenario
    from twin.model.world import World

    data = copy.deepcopy(TINY)
    data["sites"][0]["carbon_gco2_per_kwh"] = {"series": str(tmp_path / "none.csv")}
    with pytest.raises(ConfigError, match=r"sites\[0\]\.carbon_gco2_per_kwh\.series"):
        World(validate_scenario(data))
