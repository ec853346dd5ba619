"""Reading a CSV trace by column name, each record with its line number, shape problems
filed by line."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from twin.errors import shorten
from twin.importers.common import LineErrors, TraceFormatError, read_text


class CsvRecords:
    """The records of a CSV file with a header, by line number.

    Creating it checks the header names the ``required`` columns (else
    :class:`TraceFormatError`). Iterating yields ``(line, {column: text})`` of every
    well-formed record (the ``required`` and ``optional`` columns it has); a record that is
    not CSV or has another field count than the header goes to ``errors`` by its line.
    ``count`` is the records met so far, well-formed or not (blank lines are none).
    """

    def __init__(
        self,
        path: Path,
        required: tuple[str, ...],
        optional: tuple[str, ...] = (),
        errors: LineErrors | None = None,
    ) -> None:
        self.errors = errors if errors is not None else LineErrors(path)
        self.count = 0
        self._reader = csv.reader(io.StringIO(read_text(path), newline=""))
        try:
            self.header = [name.strip() for name in next(self._reader)]
        except StopIteration:
            raise TraceFormatError(path, [(1, "empty file: expected a header line")]) from None
        except csv.Error as error:
            raise TraceFormatError(path, [(1, f"not CSV: {error}")]) from None
        missing = [name for name in required if name not in self.header]
        if missing:
            plural = "s" if len(missing) > 1 else ""
            raise TraceFormatError(
                path,
                [
                    (
                        1,
                        f"header lacks column{plural} {', '.join(missing)} "
                        f"(it has: {shorten(', '.join(self.header), 200)})",
                    )
                ],
            )
        self.select((*required, *optional))

    def select(self, names: tuple[str, ...]) -> None:
        """Yield these columns (those the header has) from now on: for a reader that picks
        its columns from the header (the header lacking a required one was refused)."""
        self._index = {name: self.header.index(name) for name in names if name in self.header}

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        reader, width = self._reader, len(self.header)
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                self.count += 1
                self.errors.add(reader.line_num, f"not CSV: {error}")
                continue
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            self.count += 1
            if len(fields) != width:
                self.errors.add(
                    reader.line_num,
                    f"expected {width} fields (as the header), found {len(fields)}",
                )
                continue
            yield reader.line_num, {name: fields[i].strip() for name, i in self._index.items()}
