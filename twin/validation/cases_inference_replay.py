"""Inference trace replay cases: whole runs replaying the packaged Azure LLM trace, held
against the trace itself (parsed here with the csv module, not twin's reader): per-window
arrival counts against a histogram of its arrival times, the (prompt, output) pairs of
windows holding one request against the trace's pairs, rate scaling, and the refusal of a
malformed file. Every figure is a count that must match exactly."""

from __future__ import annotations

import csv
import gzip
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from twin.config import validate_scenario
from twin.config.data_files import data_file
from twin.config.errors import ConfigError
from twin.model.world import check_policies
from twin.simulation import simulate
from twin.trace.reader import open_run
from twin.validation.case import Case

GROUP = "inference_replay"
TRACE = "azure_llm_conversation_tokens.csv.gz"
SOURCE = "Azure LLM inference trace 2023 (conversation), configs/data/" + TRACE
EXACT = "the trace file, parsed with the csv module"


def cases() -> list[Case]:
    trace = _azure()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        made = _counts_and_tokens(trace, tmp) + _pairs(trace, tmp) + _scaled(trace, tmp)
        return [*made, _malformed(tmp)]


def _azure() -> np.ndarray:
    """(arrival s from the first, prompt, output) of every request of the packaged trace."""
    with gzip.open(data_file(TRACE), "rt", newline="") as handle:
        rows = [
            (float(r["arrived_at"]), int(r["num_prefill_tokens"]), int(r["num_decode_tokens"]))
            for r in csv.DictReader(handle)
        ]
    table = np.array(rows)
    table[:, 0] -= table[:, 0].min()
    return table


def _scenario(trace: dict[str, Any], horizon: float, window: float) -> dict[str, Any]:
    """A 70B llm service on two 8-H100 replicas at one site, one region beside it."""
    service = {
        "id": "chat",
        "kind": "llm",
        "replicas": {"a": 2},
        "model": {"parameters_b": 70, "kv_bytes_per_token": 327680},
        "accelerators_per_replica": 8,
        "trace": {"file": f"builtin:{TRACE}", **trace},
    }
    return {
        "name": "replay",
        "start": "2026-03-02",
        "horizon": horizon,
        "seed": 1,
        "accelerators": {
            "H100": {"tdp_w": 700, "bf16_tflops": 989, "memory_gb": 80, "hbm_tbps": 3.35}
        },
        "sites": [
            {
                "id": "a",
                "lat": 50.0,
                "lon": 10.0,
                "pools": [{"accelerator": "H100", "count": 16}],
                "power_mw": 10.0,
                "carbon_gco2_per_kwh": 100,
                "price_eur_per_mwh": 50,
            }
        ],
        "tenants": {"t": {"share": 1}},
        "policies": {"scheduler": "fcfs", "placement": "least_loaded"},
        "telemetry": {"interval": horizon},
        "workloads": {
            "inference": {
                "window": window,
                "routing": "nearest",
                "regions": [{"id": "r", "lat": 50.0, "lon": 10.0, "share": 1}],
                "services": [service],
            }
        },
    }


def _run(data: dict[str, Any], out: Path) -> dict[str, np.ndarray]:
    simulate(validate_scenario(data, checks=(check_policies,)), out=out)
    table = open_run(out).table("inference")
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


def _window_counts(times: np.ndarray, ends: np.ndarray, window: float) -> np.ndarray:
    return np.searchsorted(times, ends, "left") - np.searchsorted(times, ends - window, "left")


def _counts_and_tokens(trace: np.ndarray, tmp: Path) -> list[Case]:
    """The whole trace (58 min) in an hour of 10 s windows."""
    run = _run(_scenario({}, 3600.0, 10.0), tmp / "counts")
    ends = run["time_s"]
    expected = _window_counts(trace[:, 0], ends, 10.0)
    upper = np.searchsorted(trace[:, 0], ends, "left")
    lower = np.searchsorted(trace[:, 0], ends - 10.0, "left")
    sums = np.concatenate([[[0, 0]], np.cumsum(trace[:, 1:], axis=0)])
    shown = np.column_stack([run["arrival_prompt_tokens"], run["arrival_output_tokens"]])
    name = "Azure LLM replay, 1 h in 10 s windows"
    return [
        Case(
            GROUP,
            f"{name}: windows whose arrivals differ from the trace's",
            "histogram of the trace's arrival times over the same windows",
            SOURCE,
            float(np.count_nonzero(run["arrivals"] != expected)),
            0.0,
            0.0,
            absolute=True,
            notes=(f"{len(ends)} windows, {int(run['arrivals'].sum()):,} requests",),
        ),
        Case(
            GROUP, f"{name}: requests", EXACT, SOURCE, float(run["arrivals"].sum()), len(trace), 0.0
        ),
        Case(
            GROUP,
            f"{name}: windows whose prompt or output token sum differs from the trace's",
            "Σ prompt and Σ output tokens of the trace's requests in each window",
            SOURCE,
            float(np.count_nonzero(np.any(shown != sums[upper] - sums[lower], axis=1))),
            0.0,
            0.0,
            absolute=True,
        ),
    ]


def _pairs(trace: np.ndarray, tmp: Path) -> list[Case]:
    """Stretched 20× in 1 s windows, most windows hold one request or none: a window with
    one shows that request's (prompt, output) pair."""
    run = _run(_scenario({"rate_scale": 0.05}, 1200.0, 1.0), tmp / "pairs")
    times = trace[:, 0] / 0.05
    lone = run["arrivals"] == 1
    index = np.searchsorted(times, run["time_s"][lone], "left") - 1
    shown = np.column_stack(
        [run["arrival_prompt_tokens"][lone], run["arrival_output_tokens"][lone]]
    )
    mismatched = np.count_nonzero(np.any(shown != trace[index, 1:], axis=1))
    return [
        Case(
            GROUP,
            "Azure LLM replay at rate_scale 0.05: one-request windows whose (prompt, output) "
            "pair is not the trace's",
            "the pair of the trace's one request in the window",
            SOURCE,
            float(mismatched),
            0.0,
            0.0,
            absolute=True,
            notes=(f"{int(lone.sum())} windows with one request",),
        )
    ]


def _scaled(trace: np.ndarray, tmp: Path) -> list[Case]:
    """rate_scale 2 over 19 min holds the trace's first 38 min."""
    run = _run(_scenario({"rate_scale": 2.0}, 1200.0, 60.0), tmp / "scaled")
    span = float(run["time_s"][-1])
    return [
        Case(
            GROUP,
            f"Azure LLM replay at rate_scale 2: requests in the first {span:g} s",
            f"the trace's requests in its first {2 * span:g} s",
            SOURCE,
            float(run["arrivals"].sum()),
            float(np.count_nonzero(trace[:, 0] < 2 * span)),
            0.0,
        )
    ]


def _malformed(tmp: Path) -> Case:
    """A file with three bad lines (field count, negative time, text in a number field)."""
    path = tmp / "bad.csv"
    path.write_text("arrived_at,num_prefill_tokens,num_decode_tokens\n0,1,1\n1,2\n-1,1,1\n2,x,1\n")
    data = _scenario({"file": str(path), "format": "azure_llm"}, 60.0, 10.0)
    try:
        validate_scenario(data)
        lines = 0.0
    except ConfigError as error:
        text = " ".join(issue.message for issue in error.issues)
        lines = float(sum(f"line {n}:" in text for n in (3, 4, 5)))
    return Case(
        GROUP,
        "malformed Azure trace: bad lines refused by number before any run",
        "the three bad lines of the file (3: two fields, 4: negative time, 5: text)",
        "constructed",
        lines,
        3.0,
        0.0,
    )
