"""The validation report (``python -m twin.validation``): it runs the case modules, writes every
case with its status, never writes a case that did not run as passed, exits 1 when a case
fails, and turns a case module that raises into a failed case.

The real network group (a few seconds) stands for the report's groups; case modules written
into ``tmp_path`` force the statuses a healthy twin never produces.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from twin.validation import cases_network, report, simgrid_peer

NETWORK = "twin.validation.cases_network"
ROW = re.compile(r"^\| (?P<name>[^|]+?) \|.*\| (?P<status>pass|\*\*FAIL\*\*|not run) \|$")


def rows(text: str) -> dict[str, str]:
    """Case name → status cell, for every row of the report's tables."""
    found = {}
    for line in text.splitlines():
        match = ROW.match(line)
        if match:
            found[match["name"]] = match["status"]
    return found


def summary(text: str) -> tuple[int, int, int]:
    match = re.search(r"\*\*(\d+) pass, (\d+) fail, (\d+) not run\.\*\*", text)
    assert match, "the report has a summary line"
    return int(match[1]), int(match[2]), int(match[3])


def case_module(directory: Path, name: str, body: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A real case module ``name`` in ``directory``, importable by that name."""
    (directory / f"{name}.py").write_text(
        "from twin.validation.case import Case, not_run\n\n" + textwrap.dedent(body)
    )
    monkeypatch.syspath_prepend(str(directory))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


@pytest.fixture(scope="module")
def network_reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, str]:
    """The network group run twice, SimGrid looked for in this interpreter: exit status of
    the first run, both reports' text."""
    folder = tmp_path_factory.mktemp("report")
    first, second = folder / "first" / "validation.md", folder / "second.md"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(simgrid_peer.PYTHON_VARIABLE, sys.executable)
        status = report.main(["--only", "network", "--out", str(first)])
        report.main(["--only", "network", "--out", str(second)])
    return status, first.read_text(), second.read_text()


def test_network_report_has_every_case_with_its_status(network_reports) -> None:
    status, text, _ = network_reports
    assert status == 0
    assert text.startswith("# Validation report\n")
    assert "with twin " in text and "## network" in text
    found = rows(text)
    passed, failed, skipped = summary(text)
    assert len(found) == passed + failed + skipped
    assert (failed, list(found.values()).count("pass")) == (0, passed)
    # The hand cases, by the names the case module gives their flows.
    for flow in ("A n0→n2", "B n0→n1", "C n1→n2"):
        assert found[f"parking lot n0–n1 (10 Gbps)–n2 (4 Gbps): flow {flow} (Gbps)"] == "pass"
    for flow in ("A n0→n3", "B n0→n1", "C n1→n3", "D n1→n2", "E n2→n3"):
        assert found[f"cascade n0–n1 (1)–n2 (3)–n3 (5 Gbps): flow {flow} (Gbps)"] == "pass"
    simgrid = [name for name in found if "SimGrid" in name]
    assert len(simgrid) == 2
    installed = importlib.util.find_spec("simgrid") is not None
    assert {found[name] for name in simgrid} == {"pass" if installed else "not run"}
    if not installed:
        assert "not run: simgrid is not importable by" in text
    # Notes carry the hand reasoning.
    assert "n1→n2 has the smallest fair share" in text


def test_report_is_deterministic_apart_from_its_date_line(network_reports) -> None:
    _, first, second = network_reports

    def undated(text: str) -> list[str]:
        return [line for line in text.splitlines() if not line.startswith("Written by")]

    assert undated(first) == undated(second)
    assert len(undated(first)) == len(first.splitlines()) - 1  # one dated line, left out


def test_not_run_is_never_written_as_pass(tmp_path, monkeypatch, capsys) -> None:
    module = case_module(
        tmp_path,
        "cases_forced",
        """
        def cases():
            return [
                not_run("forced", "peer absent", "a peer", "nowhere", "peer not installed"),
                Case("forced", "equal figures, no peer", "a peer", "nowhere", 1.0, 1.0, 0.0,
                     reason="peer not installed"),
            ]
        """,
        monkeypatch,
    )
    out = tmp_path / "docs" / "validation.md"
    assert report.main(["--out", str(out)], modules=[module]) == 0
    text = out.read_text()
    assert rows(text) == {"peer absent": "not run", "equal figures, no peer": "not run"}
    assert summary(text) == (0, 0, 2)
    assert "not run: peer not installed" in text
    terminal = capsys.readouterr().out
    assert "0 pass, 0 fail, 2 not run" in terminal
    assert terminal.count("peer not installed") == 2
    assert list(out.parent.iterdir()) == [out]  # written atomically: no scratch file left


def test_a_failing_case_gives_exit_1(tmp_path, monkeypatch) -> None:
    module = case_module(
        tmp_path,
        "cases_failing",
        """
        def cases():
            return [
                Case("failing", "within", "r", "s", 1.05, 1.0, 0.1),
                Case("failing", "outside", "r", "s", 1.2, 1.0, 0.1),
            ]
        """,
        monkeypatch,
    )
    out = tmp_path / "validation.md"
    assert report.main(["--out", str(out)], modules=[module]) == 1
    text = out.read_text()
    assert rows(text) == {"within": "pass", "outside": "**FAIL**"}
    assert summary(text) == (1, 1, 0)
    assert "| 1.2 | 1 | 2.0e-01 | 1.0e-01 | **FAIL** |" in text


def test_a_case_module_that_raises_is_a_failed_case(tmp_path, monkeypatch) -> None:
    broken = case_module(
        tmp_path,
        "cases_broken",
        """
        def cases():
            raise RuntimeError("the peer's output could not be parsed")
        """,
        monkeypatch,
    )
    fine = case_module(
        tmp_path,
        "cases_fine",
        """
        def cases():
            return [Case("fine", "exact", "r", "s", 2.0, 2.0, 0.0)]
        """,
        monkeypatch,
    )
    out = tmp_path / "validation.md"
    assert report.main(["--out", str(out)], modules=[broken, fine]) == 1
    text = out.read_text()
    assert rows(text) == {"cases_broken.cases() raised": "**FAIL**", "exact": "pass"}
    assert "## broken" in text and "## fine" in text
    assert "RuntimeError at cases_broken.py:" in text
    assert "the peer's output could not be parsed" in text


def test_an_unknown_group_is_a_user_error(tmp_path, capsys) -> None:
    out = tmp_path / "validation.md"
    assert report.main(["--only", "nope", "--out", str(out)], modules=[NETWORK]) == 2
    assert "--only 'nope': no such group; the groups are ['network']" in capsys.readouterr().err
    assert not out.exists()


def test_every_case_module_of_the_package_is_found() -> None:
    found = report.case_modules()
    assert {NETWORK, "twin.validation.cases_queueing"} <= set(found)
    assert all(name.startswith("twin.validation.cases_") for name in found)
    assert report.group_of(NETWORK) == "network"


def test_python_dash_m_runs_the_report_and_exits_with_its_status(tmp_path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "twin.validation",
            "--only",
            "nope",
            "--out",
            str(tmp_path / "v.md"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "no such group" in done.stderr and "Traceback" not in done.stderr


def test_a_simgrid_that_imports_but_gives_no_rates_is_a_failed_case(tmp_path, monkeypatch) -> None:
    """An interpreter whose ``simgrid`` imports (a stand-in module with a version and no
    engine): the probe finds it, the rates script then fails, and both cases fail."""
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "simgrid.py").write_text('simgrid_version = "0.0-broken"\n')
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nPYTHONPATH={fake} exec {sys.executable} "$@"\n')
    python.chmod(0o755)
    monkeypatch.setenv(simgrid_peer.PYTHON_VARIABLE, str(python))
    assert simgrid_peer.version() == "0.0-broken" and simgrid_peer.unavailable() == ""
    one = np.ones(1)
    made = cases_network.simgrid_cases("one link", [[0]], one, one, one, one)
    assert [case.status for case in made] == ["fail", "fail"]
    assert all("SimGrid is importable but gave no rates" in case.notes[0] for case in made)
