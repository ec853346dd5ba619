"""Trace files of a scenario (``*.trace.file``): relative paths resolved from the folder of
the YAML that names them (scenario or what-if), ``builtin:NAME`` kept and found in
``configs/data``."""

from __future__ import annotations

import pytest
import yaml

from twin.config import load_raw
from twin.config.data_files import trace_file
from twin.config.errors import TwinUserError


def test_relative_trace_files_resolve_from_their_own_yaml_and_builtins_stay(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "overlays").mkdir()
    scenario = {
        "name": "traces",
        "workloads": {
            "training": {"trace": {"file": "logs/jobs.swf"}},
            "inference": {"services": [{"id": "chat", "trace": {"file": "requests.csv"}}]},
            "transfers": {"trace": {"file": "builtin:moves.csv"}},
        },
    }
    (tmp_path / "base" / "scenario.yaml").write_text(yaml.safe_dump(scenario))
    whatif = {"workloads": {"transfers": {"trace": {"file": "../lists/moves.csv"}}}}
    (tmp_path / "overlays" / "w.yaml").write_text(yaml.safe_dump(whatif))
    raw = load_raw(tmp_path / "base" / "scenario.yaml")
    assert raw["workloads"]["training"]["trace"]["file"] == str(tmp_path / "base/logs/jobs.swf")
    service = raw["workloads"]["inference"]["services"][0]
    assert service["trace"]["file"] == str(tmp_path / "base/requests.csv")
    assert raw["workloads"]["transfers"]["trace"]["file"] == "builtin:moves.csv"
    raw = load_raw(tmp_path / "base" / "scenario.yaml", [tmp_path / "overlays" / "w.yaml"])
    assert raw["workloads"]["transfers"]["trace"]["file"] == str(tmp_path / "lists/moves.csv")


def test_a_builtin_trace_is_a_packaged_data_file():
    path = trace_file("builtin:lublin_256.swf.gz")
    assert path.name == "lublin_256.swf.gz" and path.parent.name == "data" and path.is_file()
    with pytest.raises(TwinUserError, match="no built-in data file"):
        trace_file("builtin:nothing.csv")
