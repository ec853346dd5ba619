"""Reading a measured iteration profile of one LLM replica: the table the ``profile``
iteration model interpolates and ``twin fit-iteration`` fits ``calibrated`` to.

Each row is one iteration: its kind (``prefill``, ``decode`` or ``mixed``), what it
computed and how long it took. Two CSV layouts (gzip or not), told apart by the header:

* **Vidur-style** (the shipped ``builtin:a100_llama3_8b_tp{1,4}_iterations.csv.gz``):
  ``kind, label, num_requests, total_q_tokens, total_ms`` and optionally
  ``tensor_parallel_communication_ms_all_layers`` (other columns are ignored). A prefill
  row (``8 x prefill q=512``) prefills ``num_requests`` prompts of ``total_q_tokens``
  tokens in all; a decode row (``decode B=8 ctx=513``) has ``num_requests`` decoding
  requests at the context of its label's ``ctx=N``; a mixed row (``chunk 256 + 8 decodes
  ctx=576``) prefills the chunk of its label beside ``total_q_tokens`` − chunk decoding
  requests at ``ctx=N`` (its ``num_requests`` counts the chunk's request too, so it must be
  the decodes + 1).
* **plain**: ``kind, prefill_tokens, decode_batch, decode_context, time_ms`` and optionally
  ``prompts`` and ``tp_comm_ms``, one row per measured iteration (repeats allowed):

  ===================  =================================================================
  ``kind``             ``prefill``, ``decode`` or ``mixed``
  ``prefill_tokens``   prompt tokens prefilled in all (prefill: ≥ 1; mixed: the chunk,
                       ≥ 1, prefilled from the prompt's start; decode: 0 or empty)
  ``prompts``          prompts a prefill row prefills (default 1); 1, 0 or empty else
  ``decode_batch``     decoding requests (decode: ≥ 1; mixed: ≥ 0; prefill: 0 or empty)
  ``decode_context``   mean context per decoding request, tokens (decode and mixed: ≥ 1;
                       prefill: 0 or empty)
  ``time_ms``          the iteration's time, ms (> 0)
  ``tp_comm_ms``       the tensor-parallel communication time within it, ms (0 to time_ms)
  ===================  =================================================================

  for example ``decode,0,1,8,513,11.37`` (with ``prompts`` after ``prefill_tokens``).

A bad row is refused with its line number (:class:`~twin.importers.common.TraceFormatError`).
:func:`profile_problems` tells whether a profile has the shape the interpolating model needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from twin.importers.common import LineErrors, TraceFormatError, number
from twin.importers.csv_rows import CsvRecords

KINDS = ("prefill", "decode", "mixed")
VIDUR_COLUMNS = ("kind", "label", "num_requests", "total_q_tokens", "total_ms")
VIDUR_COMM = "tensor_parallel_communication_ms_all_layers"
PLAIN_COLUMNS = ("kind", "prefill_tokens", "decode_batch", "decode_context", "time_ms")
PLAIN_OPTIONAL = ("prompts", "tp_comm_ms")
_CTX = re.compile(r"ctx=(\d+)")
_CHUNK = re.compile(r"chunk (\d+)")


@dataclass(frozen=True)
class IterationProfile:
    """A profile's iterations, one array entry per row, in the file's order."""

    kind: np.ndarray
    """str objects: "prefill" | "decode" | "mixed"."""
    label: list[str]
    """A human label per row (the file's label column, or built)."""
    prompts: np.ndarray
    """int64: prompts in a prefill row (1 for decode; 1 for mixed = one chunk)."""
    prefill_tokens: np.ndarray
    """int64: prompt tokens prefilled in all (prefill), the chunk (mixed), 0 (decode)."""
    decode_batch: np.ndarray
    """int64: decoding requests (0 for prefill rows)."""
    decode_context: np.ndarray
    """float64: mean context per decoding request, tokens (0 for prefill rows)."""
    time_s: np.ndarray
    """float64: iteration time, s (> 0)."""
    tp_comm_s: np.ndarray
    """float64: tensor-parallel communication time within time_s, s; NaN without the column."""


@dataclass(frozen=True)
class _Row:
    kind: str
    label: str
    prompts: int
    prefill_tokens: int
    decode_batch: int
    decode_context: float
    time_s: float
    tp_comm_s: float


def read_iteration_profile(path: Path) -> IterationProfile:
    """The iterations of a profile CSV (either layout); bad rows refused by line number."""
    errors = LineErrors(path)
    optional = (*VIDUR_COLUMNS, VIDUR_COMM, *PLAIN_COLUMNS, *PLAIN_OPTIONAL)
    records = CsvRecords(path, ("kind",), optional, errors=errors)
    vidur = "total_ms" in records.header
    required = VIDUR_COLUMNS if vidur else PLAIN_COLUMNS
    missing = [name for name in required if name not in records.header]
    if missing:
        layout = "a Vidur-style profile" if vidur else "a plain profile (or Vidur-style)"
        raise TraceFormatError(
            path, [(1, f"header lacks {', '.join(missing)} for {layout}: see the formats")]
        )
    comm = VIDUR_COMM if vidur else "tp_comm_ms"
    has_comm = comm in records.header
    parse = _vidur_row if vidur else _plain_row
    rows = []
    for line, record in records:
        try:
            row = parse(record)
            if has_comm:
                row = _with_comm(row, number(record[comm], comm) / 1000)
        except ValueError as error:
            errors.add(line, str(error))
            continue
        rows.append(row)
    errors.raise_any()
    if not rows:
        raise TraceFormatError(path, [(1, "no iterations: expected at least one row")])
    return IterationProfile(
        kind=np.array([row.kind for row in rows], dtype=object),
        label=[row.label for row in rows],
        prompts=np.array([row.prompts for row in rows], dtype=np.int64),
        prefill_tokens=np.array([row.prefill_tokens for row in rows], dtype=np.int64),
        decode_batch=np.array([row.decode_batch for row in rows], dtype=np.int64),
        decode_context=np.array([row.decode_context for row in rows], dtype=np.float64),
        time_s=np.array([row.time_s for row in rows], dtype=np.float64),
        tp_comm_s=np.array([row.tp_comm_s for row in rows], dtype=np.float64),
    )


def _kind(record: dict[str, str]) -> str:
    kind = record["kind"]
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    return kind


def _time(text: str, column: str) -> float:
    time_s = number(text, column) / 1000
    if time_s <= 0:
        raise ValueError(f"{column}: expected a positive time, got {text}")
    return time_s


def _count(text: str, column: str, least: int) -> int:
    value = number(text, column, integer=True)
    if value < least:
        raise ValueError(f"{column}: expected a whole number ≥ {least}, got {text}")
    return int(value)


def _vidur_row(record: dict[str, str]) -> _Row:
    kind, label = _kind(record), record["label"]
    requests = _count(record["num_requests"], "num_requests", 1)
    q_tokens = _count(record["total_q_tokens"], "total_q_tokens", 1)
    time_s = _time(record["total_ms"], "total_ms")
    if kind == "prefill":
        return _Row(kind, label, requests, q_tokens, 0, 0.0, time_s, np.nan)
    ctx = _label_number(_CTX, label, "ctx=N")
    if kind == "decode":
        return _Row(kind, label, 1, 0, requests, float(ctx), time_s, np.nan)
    chunk = _label_number(_CHUNK, label, "'chunk N'")
    decodes = q_tokens - chunk  # one query token per decoding request
    if decodes < 0:
        raise ValueError(f"total_q_tokens: {q_tokens} is less than the label's chunk {chunk}")
    if requests != decodes + 1:
        raise ValueError(
            f"num_requests: {requests}, but {decodes} decodes beside the chunk's request "
            f"make {decodes + 1}"
        )
    return _Row(kind, label, 1, chunk, decodes, float(ctx), time_s, np.nan)


def _label_number(pattern: re.Pattern[str], label: str, what: str) -> int:
    found = pattern.search(label)
    if found is None or int(found.group(1)) < 1:
        raise ValueError(f"label: expected {what} with N ≥ 1 in {label!r}")
    return int(found.group(1))


def _plain_row(record: dict[str, str]) -> _Row:
    kind = _kind(record)
    time_s = _time(record["time_ms"], "time_ms")
    prompts_text = record.get("prompts", "")
    if kind == "prefill":
        tokens = _count(record["prefill_tokens"], "prefill_tokens", 1)
        prompts = _count(prompts_text, "prompts", 1) if prompts_text else 1
        _nothing(record, ("decode_batch", "decode_context"), "a prefill row")
        per_prompt = f"q={tokens // prompts}" if tokens % prompts == 0 else f"{tokens} tokens"
        label = f"prefill {per_prompt}" if prompts == 1 else f"{prompts} x prefill {per_prompt}"
        return _Row(kind, label, prompts, tokens, 0, 0.0, time_s, np.nan)
    if prompts_text and number(prompts_text, "prompts") not in (0, 1):
        raise ValueError(f"prompts: a {kind} row prefills at most one prompt, got {prompts_text}")
    context = number(record["decode_context"], "decode_context")
    if context < 1:
        raise ValueError(f"decode_context: expected ≥ 1 token, got {record['decode_context']}")
    if kind == "decode":
        _nothing(record, ("prefill_tokens",), "a decode row")
        batch = _count(record["decode_batch"], "decode_batch", 1)
        label = f"decode B={batch} ctx={context:g}"
        return _Row(kind, label, 1, 0, batch, context, time_s, np.nan)
    chunk = _count(record["prefill_tokens"], "prefill_tokens", 1)
    batch = _count(record["decode_batch"], "decode_batch", 0)
    label = f"chunk {chunk} + {batch} decodes ctx={context:g}"
    return _Row(kind, label, 1, chunk, batch, context, time_s, np.nan)


def _nothing(record: dict[str, str], columns: tuple[str, ...], what: str) -> None:
    for column in columns:
        text = record[column]
        if text and number(text, column) != 0:
            raise ValueError(f"{column}: {what} has none (expected 0 or empty), got {text}")


def _with_comm(row: _Row, comm_s: float) -> _Row:
    if not 0 <= comm_s <= row.time_s:
        raise ValueError(
            f"communication time {comm_s * 1000:g} ms: expected 0 to the iteration's "
            f"{row.time_s * 1000:g} ms"
        )
    return replace(row, tp_comm_s=comm_s)


def read_iteration_profile_once(path: Path) -> IterationProfile:
    """:func:`read_iteration_profile`, read once per file version (path, size, modification
    time): the loader's check and every replica pool of the model share one read."""
    try:
        info = Path(path).stat()
    except OSError:  # read_iteration_profile says why it cannot
        return read_iteration_profile(path)
    return _cached_profile(str(path), info.st_size, info.st_mtime_ns)


@lru_cache(maxsize=16)
def _cached_profile(path: str, size: int, mtime_ns: int) -> IterationProfile:
    del size, mtime_ns  # part of the cache key only
    return read_iteration_profile(Path(path))


def profile_problems(profile: IterationProfile, needs_mixed: bool = False) -> list[str]:
    """What keeps ``profile`` from driving the interpolating ``profile`` model (empty if
    nothing): single-prompt prefill rows to interpolate by tokens, decode rows on a full
    batch × context grid, and mixed rows (if any) at one context on a full chunk × decode
    batch grid. ``needs_mixed`` (the scheduler builds mixed batches) adds no problem: the
    model serves a mixed batch without mixed rows by its decode and prefill parts."""
    problems = []
    prefill = (profile.kind == "prefill") & (profile.prompts == 1)
    if not prefill.any():
        problems.append("no prefill row of one prompt (kind prefill, prompts 1)")
    decode = profile.kind == "decode"
    if not decode.any():
        problems.append("no decode rows")
    else:
        missing = _missing_pair(profile.decode_batch[decode], profile.decode_context[decode])
        if missing:
            batch, context = missing
            problems.append(
                "decode rows are not a full grid of batch × context: "
                f"no row of batch {batch} at context {context:g}"
            )
    mixed = profile.kind == "mixed"
    if mixed.any():
        contexts = np.unique(profile.decode_context[mixed])
        if len(contexts) > 1:
            shown = ", ".join(f"{context:g}" for context in contexts)
            problems.append(f"mixed rows are at contexts {shown}: expected one context")
        missing = _missing_pair(profile.prefill_tokens[mixed], profile.decode_batch[mixed])
        if missing:
            chunk, batch = missing
            problems.append(
                "mixed rows are not a full grid of chunk × decode batch: "
                f"no row of chunk {chunk} with {batch:g} decodes"
            )
    return problems


def _missing_pair(first: np.ndarray, second: np.ndarray) -> tuple[int, float] | None:
    """The first (in sorted order) pair of distinct values of ``first`` and ``second`` that
    no row has, or None if the rows cover the whole grid."""
    present = set(zip(first.tolist(), second.tolist(), strict=True))
    for a in np.unique(first).tolist():
        for b in np.unique(second).tolist():
            if (a, b) not in present:
                return a, b
    return None
