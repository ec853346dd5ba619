"""Values built once per key, however many threads ask at the same time.

The dashboard serves concurrent requests from threads; a run's parsed tables, summary,
views and figures are expensive, so each is built by one thread while the others asking for
the same key wait for it (single-flight), then shared. A build that fails with a
:class:`RunError` (a malformed table, say) is remembered too: a broken file is not re-read
by every request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from twin.trace.reader import RunError

V = TypeVar("V")


class _Failure:
    """A remembered RunError: raised anew (same type, same message) on each lookup."""

    def __init__(self, error: RunError) -> None:
        self.kind = type(error)
        self.args = error.args

    def raise_(self) -> None:
        raise self.kind(*self.args)


class Memo(Generic[V]):
    """A thread-safe cache whose misses are built once per key (``size``: LRU bound)."""

    def __init__(self, size: int | None = None) -> None:
        self.size = size
        self._values: OrderedDict[Hashable, V | _Failure] = OrderedDict()
        self._building: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._values

    def get(self, key: Hashable, build: Callable[[], V]) -> V:
        """The value of ``key``, built by ``build()`` if no thread has built it yet."""
        found, value = self._lookup(key)
        if found:
            return value
        with self._lock:
            gate = self._building.setdefault(key, threading.Lock())
        with gate:
            found, value = self._lookup(key)
            if found:
                return value
            try:
                value = build()
            except RunError as error:
                self._store(key, _Failure(error))
                raise
            else:
                self._store(key, value)
                return value
            finally:  # after the store: a thread arriving now finds the value
                with self._lock:
                    self._building.pop(key, None)

    def discard(self, predicate: Callable[[Hashable], bool]) -> None:
        """Forget the keys for which ``predicate`` is true."""
        with self._lock:
            for key in [k for k in self._values if predicate(k)]:
                del self._values[key]

    def _lookup(self, key: Hashable) -> tuple[bool, V]:
        with self._lock:
            if key not in self._values:
                return False, None  # type: ignore[return-value]
            self._values.move_to_end(key)
            value = self._values[key]
        if isinstance(value, _Failure):
            value.raise_()
        return True, value  # type: ignore[return-value]

    def _store(self, key: Hashable, value: V | _Failure) -> None:
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while self.size is not None and len(self._values) > self.size:
                self._values.popitem(last=False)
