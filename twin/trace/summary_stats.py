"""Small column statistics the summary modules share (chunks of Arrow tables in, plain
values out)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def quantile(values: np.ndarray, q: float) -> float:
    if not len(values):
        return float("nan")
    return float(pc.quantile(pa.array(values, pa.float64()), q=q)[0].as_py())


def concat(pieces: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(pieces) if pieces else np.empty(0)


def count_values(column: pa.ChunkedArray, into: Counter[str]) -> None:
    for row in pc.value_counts(column).to_pylist():
        into[row["values"]] += row["counts"]


def by_key(chunk: pa.Table, key: str) -> Iterator[tuple[Any, pa.Table]]:
    """The rows of ``chunk`` per value of column ``key``, in order of first appearance."""
    for value in pc.unique(chunk[key]).to_pylist():
        yield value, chunk.filter(pc.equal(chunk[key], value))


def manifest_end_s(manifest: dict[str, Any]) -> float | None:
    """The simulated span a run reached (its manifest's ``end_s``), if it says."""
    value = manifest.get("end_s")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
