"""The README's analysis snippets (pandas, polars, DuckDB over a run directory) run as
printed, with the `analysis` extra installed (the test extra includes it)."""

from __future__ import annotations

import re
from pathlib import Path

from twin.config import load_config
from twin.simulation import simulate

README = Path(__file__).resolve().parents[1] / "README.md"


def analysis_snippet() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    (snippet,) = [block for block in blocks if "duckdb" in block and "polars" in block]
    return snippet


def test_the_readme_analysis_snippets_run_on_a_run_directory(tmp_path, monkeypatch):
    simulate(load_config("tiny", overrides=["horizon=6h"]), tmp_path / "runs" / "base")
    monkeypatch.chdir(tmp_path)
    names: dict = {}
    exec(compile(analysis_snippet(), "README.md", "exec"), names)
    jobs, sites = names["jobs"], names["sites"]
    assert jobs.num_rows > 0 and "wait_s" in jobs.column_names
    assert sites.height > 0 and "utilisation" in sites.columns
    ((completed,),) = (
        names["duckdb"].sql("select count(*) from jobs where state = 'completed'").fetchall()
    )
    assert completed > 0
