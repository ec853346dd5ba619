"""Claiming ``--out``: one writer per directory, and ``--overwrite`` only of twin's own runs."""

from __future__ import annotations

import json
import os

import pytest

from twin.config import load_config
from twin.simulation import simulate
from twin.trace.claim import claim_run_dir
from twin.trace.errors import RunBusyError, RunDirectoryError
from twin.trace.reader import open_run
from twin.trace.writer import RunWriter


@pytest.fixture(scope="module")
def scenario():
    return load_config("tiny", overrides=["horizon=2h"])


def snapshot(folder):
    """Every file under ``folder`` with its bytes."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_overwrite_refuses_a_folder_with_a_foreign_manifest(tmp_path, scenario):
    """A web project beside its manifest.json is not a run: nothing in it is touched."""
    project = tmp_path / "webapp"
    (project / "src").mkdir(parents=True)
    (project / "manifest.json").write_text(json.dumps({"name": "app", "icons": []}))
    (project / "index.html").write_text("<html></html>")
    (project / "src" / "app.js").write_text("console.log(1)")
    (project / "events.arrow").write_bytes(b"not twin's, whatever its name")
    before = snapshot(project)
    with pytest.raises(RunDirectoryError, match=r"not a twin run directory.*refusing to overwrite"):
        simulate(scenario, project, overwrite=True)
    assert snapshot(project) == before
    assert sorted(p.name for p in project.iterdir()) == [
        "events.arrow",
        "index.html",
        "manifest.json",
        "src",
    ]


def test_overwrite_removes_only_twins_files(tmp_path, scenario):
    out = tmp_path / "run"
    simulate(scenario, out)
    (out / "notes.txt").write_text("mine")
    (out / "plots").mkdir()
    (out / "plots" / "a.png").write_bytes(b"png")
    (out / "inference.arrow.part").write_bytes(b"a stream of an older run")
    simulate(load_config("tiny", overrides=["horizon=1h", "seed=9"]), out, overwrite=True)
    run = open_run(out)
    assert run.complete and run.manifest["seed"] == 9
    assert (out / "notes.txt").read_text() == "mine" and (out / "plots" / "a.png").exists()
    assert not (out / "inference.arrow.part").exists(), "twin's leftovers are twin's files"


def test_a_non_empty_folder_needs_overwrite(tmp_path, scenario):
    out = tmp_path / "run"
    simulate(scenario, out)
    with pytest.raises(RunDirectoryError, match="not empty; choose another --out or pass"):
        simulate(scenario, out)


def test_a_folder_being_written_is_refused_even_with_overwrite(tmp_path, scenario):
    manifest = {"twin_version": "0", "scenario": "x", "config_hash": "0" * 64}
    writer = RunWriter(tmp_path / "run", manifest, "")
    for overwrite in (False, True):
        with pytest.raises(RunBusyError, match=r"another twin run \(pid \d+\) is writing into"):
            simulate(scenario, tmp_path / "run", overwrite=overwrite)
    writer.close("complete")
    assert open_run(tmp_path / "run").complete, "the refused runs did not touch it"


def test_a_lock_left_by_a_dead_run_does_not_block(tmp_path, scenario):
    """The lock is an flock: it dies with its process; the file left behind means nothing."""
    out = tmp_path / "run"
    simulate(scenario, out)
    (out / ".twin.lock").write_text("")
    simulate(scenario, out, overwrite=True)
    assert open_run(out).complete and not (out / ".twin.lock").exists()


def test_the_claim_is_taken_before_the_directory_is_looked_at(tmp_path):
    """Two claims of one new directory: the second fails on the lock, not on emptiness."""
    first = claim_run_dir(tmp_path / "new")
    with pytest.raises(RunBusyError):
        claim_run_dir(tmp_path / "new")
    first.release()
    claim_run_dir(tmp_path / "new").release()
    assert list((tmp_path / "new").iterdir()) == []


def test_a_lock_file_symlink_is_not_followed(tmp_path):
    target = tmp_path / "precious"
    target.write_text("keep me")
    (tmp_path / "run").mkdir()
    os.symlink(target, tmp_path / "run" / ".twin.lock")
    with pytest.raises(RunDirectoryError):
        claim_run_dir(tmp_path / "run")
    assert target.read_text() == "keep me"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda base: (base / "file").write_text("x") and base / "file", "is not a directory"),
        (
            lambda base: (base / "file").write_text("x") and base / "file" / "run",
            "a part of this path is a file",
        ),
        (lambda base: base / ("n" * 300), "the name is too long"),
    ],
    ids=["out-is-a-file", "parent-is-a-file", "name-too-long"],
)
def test_unusable_out_paths_are_clear_errors(tmp_path, scenario, make, message):
    out = make(tmp_path)
    with pytest.raises(RunDirectoryError, match=message):
        simulate(scenario, out)
