"""The error every user mistake raises, and how messages quote what the user gave: light
(standard library only), so that every layer, the trace readers included, can use them."""

from __future__ import annotations

import reprlib


class TwinUserError(Exception):
    """A user mistake (bad config, missing file, bad override): reported without traceback."""


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 60, 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6


def shorten(value: object, limit: int = 60) -> str:
    """A short ``repr`` of ``value``: a 50 MB string or a list of thousands is not echoed."""
    text = repr(value[: 2 * limit]) if isinstance(value, str) else _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
