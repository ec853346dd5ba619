"""Start-up: what each command loads, where the compiled kernels are cached, and that a
second process loads them instead of compiling (each in fresh interpreters)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from twin.kernels._cache import chosen_cache_dir

from twin.kernel_cache import KernelCompileError, compile_kernels

CHECKOUT = Path(__file__).resolve().parent.parent
HEAVY = {"numba", "pyarrow", "dash", "pydantic", "simpy", "networkx"}

COMMAND = """
import sys
from twin.entry import main
sys.argv = ["twin", *{args!r}]
try:
    main()
except SystemExit as end:
    assert end.code in (0, None), end.code
with open({modules!r}, "w") as out:
    out.write("\\n".join(sorted(sys.modules)))
"""


@pytest.mark.parametrize(
    ("args", "forbidden"),
    [
        (["--version"], HEAVY),
        (["--help"], HEAVY),
        (["compare", "--help"], HEAVY | {"scipy"}),
        (["sweep", "--help"], HEAVY | {"dask", "distributed"}),
        (["schema"], HEAVY - {"pydantic"}),
        (["scenarios"], HEAVY - {"pydantic"}),
        (["validate", "tiny"], {"numba", "dash"}),  # the model needs the rest
        (["run", "tiny", "-q", "--horizon", "2h"], {"numba", "dash"}),  # tiny calls no kernel
    ],
)
def test_commands_load_only_what_they_use(tmp_path, args, forbidden):
    if args[0] == "run":
        args = [*args, "--out", str(tmp_path / "run")]
    modules = tmp_path / "modules.txt"
    code = COMMAND.format(args=args, modules=str(modules))
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=tmp_path)
    loaded = {name.split(".")[0] for name in modules.read_text().split()}
    assert not loaded & forbidden


KERNEL_CALL = """
import json, sys, warnings
import numpy as np
from twin.kernels.window_stats import categorical, categorical_ref
from twin.kernels import window_stats
from twin.kernels._cache import PACKAGE_DIR, writable

before = "numba" in sys.modules
cumulative, uniform = np.array([0.25, 0.5, 1.0]), np.random.default_rng(1).random(100)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    equal = bool((categorical(cumulative, uniform) == categorical_ref(cumulative, uniform)).all())
stats = window_stats._categorical_kernel.stats
print(json.dumps({
    "numba_before_call": before, "equal": equal, "path": stats.cache_path,
    "hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values()),
    "package_dir": str(PACKAGE_DIR), "package_writable": writable(PACKAGE_DIR / "__pycache__"),
    "warnings": [str(w.message) for w in caught],
}))
"""


def call_a_kernel(env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()) -> dict:
    """Call one kernel in a fresh interpreter: its numba cache statistics, and more."""
    result = subprocess.run(
        [*prefix, sys.executable, "-c", KERNEL_CALL],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def without_cache_settings() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "NUMBA_DISABLE_JIT")
    }


def test_kernel_modules_load_numba_at_their_first_call_only():
    code = """
import pkgutil, sys
import twin.kernels
from twin.kernels._jit import LazyKernel, _Prange
modules = [f"twin.kernels.{m.name}" for m in pkgutil.iter_modules(twin.kernels.__path__)]
for name in modules:
    __import__(name)
assert "numba" not in sys.modules, "importing a kernel module loaded numba"
import numpy as np
from twin.kernels.window_stats import categorical
categorical(np.array([1.0]), np.array([0.5]))
assert "numba" in sys.modules
left = [(n, a) for n in modules for a, v in vars(sys.modules[n]).items()
        if isinstance(v, (LazyKernel, _Prange))]
assert not left, left
print(len(modules))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 5


def test_a_second_process_loads_the_compiled_kernel_instead_of_compiling_it():
    env = without_cache_settings()
    call_a_kernel(env)  # compiles it, unless an earlier run did
    second = call_a_kernel(env)
    assert second["equal"] and not second["numba_before_call"]
    assert (second["hits"], second["misses"]) == (1, 0)
    # the interpreter's own copy of twin.kernels (a checkout on sys.path may shadow the venv's)
    if second["package_writable"]:  # a checkout or a user's venv
        assert Path(second["path"]) == Path(second["package_dir"]) / "__pycache__"


def test_the_cache_folder_is_the_packages_unless_it_cannot_be_written(tmp_path):
    package = tmp_path / "package"
    package.mkdir()
    (tmp_path / "file").write_text("")
    unwritable = tmp_path / "file" / "package"  # under a file: not even root can create it
    home = {"HOME": str(tmp_path / "home")}
    assert chosen_cache_dir(package, home) is None  # numba's default: beside the source
    assert chosen_cache_dir(unwritable, {**home, "NUMBA_CACHE_DIR": "/x"}) is None  # the user's
    expected = tmp_path / "home" / ".cache" / "twin" / "numba"
    assert chosen_cache_dir(unwritable, home) == expected
    assert chosen_cache_dir(unwritable, {**home, "XDG_CACHE_HOME": "relative"}) == expected
    xdg = {**home, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert chosen_cache_dir(unwritable, xdg) == tmp_path / "xdg" / "twin" / "numba"


def test_an_install_that_cannot_be_written_caches_in_the_users_folder_or_nowhere():
    """A copy of the package that this user cannot write (root acts as nobody): the cache
    goes to $XDG_CACHE_HOME/twin/numba and is used by the next process; with no folder
    writable, the kernel is compiled, with a warning, and still runs."""
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot act as an unprivileged user")
        prefix = (setpriv, "--reuid=65534", "--regid=65534", "--clear-groups")
        probe = subprocess.run(
            [*prefix, sys.executable, "-c", "import numpy"], cwd="/", check=False
        )
        if probe.returncode != 0:  # e.g. a venv inside a private folder (CI's is readable)
            pytest.skip(f"{sys.executable} and its packages are not readable by nobody here")
    base = Path(tempfile.mkdtemp(prefix="twin-cache-"))  # nobody can reach pytest's tmp_path
    try:
        base.chmod(0o755)
        install = base / "install"
        for folder in ("twin", "kernels", "configs"):
            shutil.copytree(
                CHECKOUT / folder, install / folder, ignore=shutil.ignore_patterns("__pycache__")
            )
        for folder in install.rglob("*"):
            if folder.is_dir():
                folder.chmod(0o555)
        xdg = base / "xdg"
        xdg.mkdir(mode=0o777)
        xdg.chmod(0o777)
        (base / "home").write_text("")  # a HOME under which nothing can be made
        env = without_cache_settings()
        env.update(PYTHONPATH=str(install), PYTHONDONTWRITEBYTECODE="1", HOME=str(base / "home"))
        env["XDG_CACHE_HOME"] = str(xdg)

        first, second = call_a_kernel(env, prefix), call_a_kernel(env, prefix)
        assert Path(first["path"]).is_relative_to(xdg / "twin" / "numba")
        assert (first["misses"], second["hits"], second["misses"]) == (1, 1, 0)
        assert second["equal"] and not second["warnings"]
        assert not list((install / "kernels").glob("__pycache__"))

        del env["XDG_CACHE_HOME"]
        nowhere = call_a_kernel(env, prefix)
        assert nowhere["equal"] and nowhere["path"] is None
        assert any("compiled in every run" in message for message in nowhere["warnings"])
    finally:
        for folder in base.rglob("*"):
            if folder.is_dir():
                folder.chmod(0o755)
        shutil.rmtree(base)


def test_compile_runs_each_part_in_its_own_process():
    report = compile_kernels(scenario="tiny", parts={"one": (), "two": ("seed=2",)})
    assert report.processes == 2 and report.compiled == report.loaded == 0  # tiny: no kernel
    with pytest.raises(
        KernelCompileError, match=r"(?s)the broken kernels failed.*nonsense: unknown key"
    ):
        compile_kernels(jobs=1, scenario="tiny", parts={"broken": ("nonsense=1",)})
