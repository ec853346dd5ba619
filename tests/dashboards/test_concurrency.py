"""Under concurrent requests, expensive things are built once: a memo key by one thread
while the others wait (single-flight), the runs list by one thread while the others use the
previous one, a run's state only when one of its files changed, one opened run and one
summary per run, one map figure per telemetry stamp."""

from __future__ import annotations

import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from twin.dashboards.errors import RunError
from twin.dashboards.memo import Memo
from twin.dashboards.pages import replay
from twin.dashboards.store import RunStore

THREADS = 20


def together(function, threads: int = THREADS) -> list:
    """``function()`` called by ``threads`` threads released at the same instant."""
    barrier = threading.Barrier(threads)

    def call():
        barrier.wait()
        return function()

    with ThreadPoolExecutor(threads) as pool:
        return [f.result() for f in [pool.submit(call) for _ in range(threads)]]


class Counter:
    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self.calls += 1


def test_a_memo_key_is_built_once_however_many_threads_ask():
    memo: Memo[object] = Memo()
    built = Counter()

    def build() -> object:
        built()
        time.sleep(0.05)  # long enough for every thread to ask meanwhile
        return object()

    values = together(lambda: memo.get("key", build))
    assert built.calls == 1
    assert all(value is values[0] for value in values)


def test_a_memo_remembers_a_run_error_but_not_other_errors():
    memo: Memo[object] = Memo()
    built = Counter()

    def broken() -> object:
        built()
        raise RunError("malformed: sites: garbage")

    for _ in range(3):
        with pytest.raises(RunError, match="garbage"):
            memo.get("bad", broken)
    assert built.calls == 1  # a broken file is not re-read by every request

    def flaky() -> object:
        built()
        raise OSError("transient")

    for _ in range(2):
        with pytest.raises(OSError):
            memo.get("flaky", flaky)
    assert built.calls == 3


def test_a_memo_keeps_its_bound():
    memo: Memo[int] = Memo(size=2)
    for key in range(5):
        memo.get(key, lambda key=key: key)
    assert len(memo) == 2 and 4 in memo and 3 in memo and 0 not in memo


class CountingStore(RunStore):
    """A RunStore counting how often it lists the directory and looks at one run."""

    def __init__(self, *args, slow_s: float = 0.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.listed, self.looked = Counter(), Counter()
        self.slow_s = slow_s

    def names(self) -> list[str]:
        self.listed()
        time.sleep(self.slow_s)
        return super().names()

    def _info(self, name, files):
        self.looked()
        return super()._info(name, files)


@pytest.fixture
def runs(tmp_path, runs_dir):
    for name in ("a", "b", "c"):
        shutil.copytree(runs_dir / "base", tmp_path / name)
    return tmp_path


def test_a_stale_runs_list_is_rebuilt_by_one_thread_while_the_others_use_the_last(runs):
    store = CountingStore(runs, listing_ttl_s=0.0, slow_s=0.3)
    first = store.list_runs()
    assert store.listed.calls == 1
    listings = together(store.list_runs)
    assert store.listed.calls == 2  # one rebuild for twenty stale requests
    assert all(listing == first for listing in listings)


def test_a_run_is_looked_at_again_only_when_one_of_its_files_changed(runs):
    store = CountingStore(runs, listing_ttl_s=0.0)
    store.list_runs()
    assert store.looked.calls == 3
    store.list_runs()
    store.list_runs()
    assert store.looked.calls == 3  # nothing changed: nothing read again
    manifest = runs / "b" / "manifest.json"
    stat = manifest.stat()
    os.utime(manifest, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    store.list_runs()
    assert store.looked.calls == 4  # b alone


def test_concurrent_requests_share_one_opened_run_and_one_summary(runs):
    store = RunStore(runs)
    opened = together(lambda: store.get("a"))
    assert all(data is opened[0] for data in opened)
    summaries = together(lambda: store.get("a").summary)
    assert all(summary is summaries[0] for summary in summaries)


def test_a_map_figure_is_built_once_per_stamp(runs):
    store = RunStore(runs)
    step = store.get("a").timeline.step_s
    figures = together(lambda: replay.map_frame(store, "a", 3 * step + 1.0, "site:north")[0])
    assert all(figure is figures[0] for figure in figures)
    same_stamp, clock = replay.map_frame(store, "a", 3 * step + 2.0, "site:north")
    assert same_stamp is figures[0] and clock  # the clock still follows t
    assert replay.map_frame(store, "a", 4 * step, "site:north")[0] is not figures[0]


def test_caches_stay_bounded_whatever_keys_requests_ask_for(runs):
    from twin.dashboards.limits import FIGURE_CACHE_SIZE, SERIES_CACHE_SIZE

    store = RunStore(runs)
    data = store.get("a")
    for index in range(FIGURE_CACHE_SIZE + 50):
        replay.series_frame(store, "a", f"site:nowhere-{index}", 0.0)
        data.site_series(f"nowhere-{index}")
    assert len(store.derived) == FIGURE_CACHE_SIZE
    assert len(data._series) == SERIES_CACHE_SIZE and len(data._parts) < 10
