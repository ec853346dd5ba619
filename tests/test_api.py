"""The public names of ``twin`` stay what they are however often they are used."""

from __future__ import annotations

import subprocess
import sys


def test_public_names_stay_callable_after_use(tmp_path):
    code = f"""
import twin
for k in range(2):
    scenario = twin.load_config("tiny", overrides=["horizon=1h"])
    result = twin.simulate(scenario, out=r"{tmp_path}/run%d" % k)
    assert isinstance(result, twin.RunResult)
    run = twin.open_run(result.path)
    assert isinstance(run, twin.Run) and run.complete
import twin.simulation, twin.config
assert callable(twin.simulate) and callable(twin.load_config) and callable(twin.open_run)
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
