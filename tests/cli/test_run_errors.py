"""`twin run` failing after it claimed its directory: exit 2, the message, and a readable
run that says why."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from twin.cli import main
from twin.config import builtin_scenarios
from twin.trace.reader import open_run


def test_a_model_that_cannot_be_built_is_a_user_error_with_a_readable_run(tmp_path):
    """A service no pool can host passes the file checks; the model refuses it."""
    data = yaml.safe_load(builtin_scenarios()["tiny"].read_text())
    data["workloads"]["inference"] = {
        "window": "10s",
        "regions": [{"id": "rome", "lat": 41.9, "lon": 12.5, "share": 1}],
        "services": [
            {
                "id": "embed",
                "kind": "single",
                "peak_rps": 10,
                "service_s": {"dist": "exponential", "mean": 0.02},
                "accelerators_per_replica": 500,
                "slo": {"latency_s": 0.05},
                "replicas": {"north": 1},
            }
        ],
    }
    scenario = tmp_path / "unplaceable.yaml"
    scenario.write_text(yaml.safe_dump(data))
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", str(scenario), "-q", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "accelerators_per_replica: no pool at its hosting sites has 500" in result.output
    assert "marked incomplete: the run stopped before it began" in result.output
    assert "Traceback" not in result.output
    run = open_run(out)
    assert run.status == "incomplete" and "no pool at its hosting sites" in run.manifest["reason"]
    assert all(run.table(name).num_rows == 0 for name in run.table_names)
    again = CliRunner().invoke(main, ["run", "tiny", "-q", "--out", str(out), "--overwrite"])
    assert again.exit_code == 0 and open_run(out).complete


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("file", "exists and is not a directory"),
        ("file/run", "a part of this path is a file, not a directory"),
        ("n" * 300, "the name is too long"),
    ],
)
def test_an_unusable_out_is_a_clear_error(tmp_path, out, message):
    (tmp_path / "file").write_text("not a folder")
    result = CliRunner().invoke(main, ["run", "tiny", "-q", "--out", str(tmp_path / out)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert (tmp_path / "file").read_text() == "not a folder"
