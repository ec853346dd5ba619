"""The layering rules of DESIGN §2, checked in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys

import pytest


def loaded_modules(statement: str) -> set[str]:
    code = f"{statement}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return {line.split(".")[0] for line in output.split()} | set(output.split())


@pytest.mark.parametrize(
    ("statement", "forbidden"),
    [
        ("import twin", {"simpy", "dash", "pyarrow", "numba", "pydantic"}),
        ("import twin.kernels", {"simpy", "dash", "pyarrow", "pydantic", "twin.model"}),
        ("import twin.trace", {"simpy", "dash", "numba", "twin.model", "twin.config"}),
        ("import twin.config", {"simpy", "dash", "pyarrow", "numba", "twin.model"}),
        ("import twin.model.world", {"dash", "twin.dashboards", "twin.cli", "numba"}),
        ("import twin.kernels.queueing, twin.kernels.maxmin", {"numba", "simpy", "pyarrow"}),
        ("import twin.analysis", {"simpy", "dash", "numba", "twin.model", "twin.config"}),
        ("import twin.analysis.compare", {"simpy", "dash", "numba", "twin.model", "twin.config"}),
        ("import twin.cli", {"simpy", "dash", "pyarrow", "numba", "pydantic", "twin.config"}),
        ("import twin.sweep.execute, twin.sweep.results", {"dash", "twin.dashboards", "twin.cli"}),
        (
            "import twin.importers, twin.importers.swf, twin.importers.alibaba_gpu, "
            "twin.importers.csv_jobs, twin.importers.azure_llm, twin.importers.alibaba_lora, "
            "twin.importers.csv_requests, twin.importers.csv_transfers, "
            "twin.importers.transfer_list, twin.importers.iteration_profile",
            {"simpy", "dash", "numba", "pydantic", "yaml", "twin.config", "twin.model"},
        ),
        (
            "import twin.replay.jobs, twin.replay.requests, twin.replay.clock",
            {"simpy", "dash", "numba", "twin.model", "twin.dashboards"},
        ),
    ],
)
def test_imports_stay_in_their_layer(statement, forbidden):
    assert not (loaded_modules(statement) & forbidden)


def test_kernels_import_only_numpy_numba_and_the_standard_library():
    from pathlib import Path

    import twin.kernels

    for path in Path(twin.kernels.__file__).parent.glob("*.py"):
        for line in path.read_text().splitlines():
            if line.startswith(("import ", "from ")) and "__future__" not in line:
                name = line.split()[1]
                module = name.split(".")[0]
                allowed = module in {"numpy", "numba"} or module in sys.stdlib_module_names
                allowed = allowed or name.startswith("twin.kernels.")  # a sibling kernel
                assert allowed, (path.name, line)
