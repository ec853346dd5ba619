"""`twin run` on a full disk, a read-only one and a folder it may not write: exit 2 and a
clear message, never a traceback; what was written stays readable.

The disks are real: a small tmpfs mounted in a private mount namespace (``unshare -m`` as
root, ``unshare -Urm`` otherwise), so nothing outlives the test. The commands that need the
disk run inside that namespace, and copy what they leave out of it for the assertions.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from twin.trace.reader import open_run

TWIN = f"{shlex.quote(sys.executable)} -m twin"


def namespace_prefix() -> list[str] | None:
    """How to get a private mount namespace here, or None if neither way works."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    prefix = [unshare, "-m"] if os.geteuid() == 0 else [unshare, "-Urm"]
    probe = subprocess.run([*prefix, "true"], capture_output=True, check=False)
    return prefix if probe.returncode == 0 else None


@pytest.fixture(scope="module")
def on_small_disk():
    prefix = namespace_prefix()
    if prefix is None:
        pytest.skip("no private mount namespace here (unshare -m / -Urm both refused)")

    def run(tmp_path: Path, size: str, script: str) -> dict[str, str]:
        """Run ``script`` (sh) with a ``size`` tmpfs mounted at $DISK and $OUT for copies;
        returns the files the script wrote into $OUT, by name."""
        disk, out = tmp_path / "disk", tmp_path / "out"
        disk.mkdir()
        out.mkdir()
        body = f"mount -t tmpfs -o size={size} tmpfs {shlex.quote(str(disk))} && {script}"
        env = {**os.environ, "DISK": str(disk), "OUT": str(out)}
        result = subprocess.run(
            [*prefix, "sh", "-c", body], env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        assert not any(disk.iterdir()), "the tmpfs was private to the namespace"
        return {p.name: p.read_text() for p in out.iterdir() if p.is_file()}

    return run


def test_a_disk_that_fills_mid_run(tmp_path, on_small_disk):
    """The run stops with a clear message; the streams hold every whole batch written, the
    manifest says why; with room again, `twin repair` finishes the tables."""
    script = (
        f"{TWIN} run tiny -q --horizon 30d --out $DISK/run >$OUT/stdout 2>$OUT/stderr;"
        " echo $? >$OUT/rc; cp -a $DISK/run $OUT/full-disk;"
        " mount -o remount,size=32m $DISK;"
        f" {TWIN} repair $DISK/run >$OUT/repair 2>&1; echo $? >$OUT/repair-rc;"
        " cp -a $DISK/run $OUT/repaired"
    )
    files = on_small_disk(tmp_path, "1m", script)
    assert files["rc"].strip() == "2", files["stderr"]
    assert "error: the disk is full: no space left to write" in files["stderr"]
    assert "Traceback" not in files["stderr"] and "twin repair" in files["stderr"]
    stopped = open_run(tmp_path / "out" / "full-disk")
    assert stopped.status == "incomplete" and "the disk is full" in stopped.manifest["reason"]
    assert 0 < stopped.manifest["end_s"] < 30 * 86400
    rows = {name: stopped.table(name).num_rows for name in ("events", "jobs", "sites")}
    assert rows["events"] > 0
    assert files["repair-rc"].strip() == "0", files["repair"]
    repaired = open_run(tmp_path / "out" / "repaired")
    assert "tables finished by twin repair" in repaired.manifest["reason"]
    assert {name: repaired.table(name).num_rows for name in rows} == rows
    assert not list((tmp_path / "out" / "repaired").glob("*.part"))


def test_a_disk_full_before_the_run_starts(tmp_path, on_small_disk):
    script = (
        "head -c 64000 /dev/zero >$DISK/filler 2>/dev/null;"
        f" {TWIN} run tiny -q --horizon 1h --out $DISK/run >$OUT/stdout 2>$OUT/stderr;"
        " echo $? >$OUT/rc; ls -A $DISK/run >$OUT/left 2>/dev/null; true"
    )
    files = on_small_disk(tmp_path, "64k", script)
    assert files["rc"].strip() == "2", files["stderr"]
    assert "the disk is full" in files["stderr"] and "Traceback" not in files["stderr"]
    assert ".twin.lock" not in files.get("left", "")


def test_a_read_only_disk(tmp_path, on_small_disk):
    script = (
        "mkdir $DISK/empty && mount -o remount,ro $DISK;"
        f" {TWIN} run tiny -q --horizon 1h --out $DISK/run 2>$OUT/new; echo $? >>$OUT/new;"
        f" {TWIN} run tiny -q --horizon 1h --out $DISK/empty 2>$OUT/existing;"
        " echo $? >>$OUT/existing"
    )
    files = on_small_disk(tmp_path, "1m", script)
    for name in ("new", "existing"):
        message, code = _last_line(files[name])
        assert code == "2", files[name]
        assert "is on a read-only file system" in message and "Traceback" not in files[name]


def _last_line(text: str) -> tuple[str, str]:
    """The output of a command and the exit code echoed after it."""
    head, _, code = text.rstrip("\n").rpartition("\n")
    return head, code


def test_a_folder_it_may_not_write(tmp_path):
    """As a user without write permission (``nobody`` when the tests run as root)."""
    env = dict(os.environ)
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot act as an unprivileged user")
        prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
        probe = subprocess.run(
            [*prefix, sys.executable, "-c", "import click, twin"], check=False, cwd="/"
        )
        if probe.returncode != 0:
            pytest.skip(f"{sys.executable} and its packages are not readable by nobody here")
        base = Path(tempfile.mkdtemp(prefix="twin-permissions-"))  # nobody can reach /tmp
        base.chmod(0o755)
        cache = base / "numba-cache"  # the checkout's kernel caches are root's
        cache.mkdir()
        cache.chmod(0o777)
        env["NUMBA_CACHE_DIR"] = str(cache)
    else:
        base = tmp_path
    locked = base / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        command = [*prefix, sys.executable, "-m", "twin", "run", "tiny", "-q"]
        command += ["--horizon", "1h", "--out", str(locked / "run")]
        # cwd: a folder the unprivileged user may read (a checkout in a private folder is not)
        result = subprocess.run(
            command, capture_output=True, text=True, env=env, check=False, cwd=base
        )
        assert result.returncode == 2, result.stderr
        assert f"permission denied: cannot write {locked / 'run'}" in result.stderr
        assert "Traceback" not in result.stderr
        assert os.listdir(locked) == []
    finally:
        locked.chmod(0o755)
        if base != tmp_path:
            shutil.rmtree(base)
