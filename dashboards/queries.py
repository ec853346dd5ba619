"""DataTable's ``filter_query`` syntax (``{col} op value && …``), evaluated on the server
over a pyarrow table. Terms that do not parse, name no column or compare with the wrong
kind of value are left out and reported, never raised."""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

_TERM = re.compile(r"\{(?P<column>[^{}]{1,200})\}\s+(?P<op>\S{1,20})\s+(?P<value>.+)", re.DOTALL)
_OPS = {
    "eq": "eq",
    "=": "eq",
    "ne": "ne",
    "!=": "ne",
    "lt": "lt",
    "<": "lt",
    "le": "le",
    "<=": "le",
    "gt": "gt",
    "ge": "ge",
    ">": "gt",
    ">=": "ge",
    "contains": "contains",
    "datestartswith": "contains",
}
_COMPARE = {
    "eq": pc.equal,
    "ne": pc.not_equal,
    "lt": pc.less,
    "le": pc.less_equal,
    "gt": pc.greater,
    "ge": pc.greater_equal,
}


def filter_terms(query: str) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(column, op, value) terms of ``query``, and the parts that are not terms."""
    terms, ignored = [], []
    for part in (query or "").split(" && "):
        part = part.strip()
        if not part:
            continue
        match = _TERM.fullmatch(part)
        op = match["op"].lower() if match else ""
        if op[:1] in "si" and op[1:] in _OPS and op not in _OPS:
            op = op[1:]
        if match is None or op not in _OPS:
            ignored.append(part)
            continue
        value = match["value"].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'`":
            value = value[1:-1]
        terms.append((match["column"], _OPS[op], value))
    return terms, ignored


def parse_filter_query(query: str) -> list[tuple[str, str, str]]:
    """``{col} op value && …`` as (column, op, value) terms; unknown operators are dropped."""
    return filter_terms(query)[0]


def condition(table: pa.Table, column: str, op: str, value: str) -> pa.ChunkedArray | None:
    """The rows of ``table`` meeting one term (None: the term does not apply to it)."""
    if column not in table.column_names:
        return None
    data = table.column(column)
    try:
        if op == "contains":
            return pc.match_substring(pc.cast(data, pa.string()), value, ignore_case=True)
        scalar: Any = value
        if pa.types.is_integer(data.type) or pa.types.is_floating(data.type):
            scalar = float(value)
            data = pc.cast(data, pa.float64())
        elif not (pa.types.is_string(data.type) or pa.types.is_large_string(data.type)):
            return None
        return _COMPARE[op](data, scalar)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        return None


__all__ = ["condition", "filter_terms", "parse_filter_query"]
