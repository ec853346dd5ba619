"""Reading a CSV trace by column name, each record with its line number."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from twin.errors import shorten
from twin.importers.common import TraceFormatError, read_text


def csv_records(
    path: Path, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {column: text}) of every record of a CSV file with a header, checking
    the header names the ``required`` columns and every record has the header's field count
    (a bad record raises ValueError with its message; the caller collects it by line)."""
    text = read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise TraceFormatError(path, [(1, "empty file: expected a header line")]) from None
    except csv.Error as error:
        raise TraceFormatError(path, [(1, f"not CSV: {error}")]) from None
    missing = [name for name in required if name not in header]
    if missing:
        raise TraceFormatError(
            path,
            [
                (
                    1,
                    f"header lacks column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
                    f" (it has: {shorten(', '.join(header), 200)})",
                )
            ],
        )
    wanted = [name for name in (*required, *optional) if name in header]
    index = {name: header.index(name) for name in wanted}
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield reader.line_num, {"": f"not CSV: {error}"}
            continue
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        if len(fields) != len(header):
            yield (
                reader.line_num,
                {"": f"expected {len(header)} fields (as the header), found {len(fields)}"},
            )
            continue
        yield reader.line_num, {name: fields[i].strip() for name, i in index.items()}


def bad(record: dict[str, str]) -> str | None:
    """The problem :func:`csv_records` found with a record's shape, if any."""
    return record.get("")
