"""A run tunes the process's garbage collector while it goes and restores it after."""

from __future__ import annotations

import gc

import pytest

from twin.model.world import YOUNG_COLLECTION_EVERY, World


def _world(model_kit) -> World:
    training = {
        "arrivals_per_day": 200,
        "accelerators": {"dist": "constant", "value": 1},
        "duration_s": {"dist": "exponential", "mean": 600},
    }
    return World(
        model_kit.build(model_kit.scenario([model_kit.site("a")], "least_loaded", training))
    )


def test_run_tunes_the_collector_and_restores_it(model_kit) -> None:
    before = gc.get_threshold()
    seen: list[tuple[tuple[int, int, int], int]] = []
    world = _world(model_kit)
    world.run(steps=4, progress=lambda _: seen.append((gc.get_threshold(), gc.get_freeze_count())))
    assert len(seen) == 4
    assert all(threshold[0] == YOUNG_COLLECTION_EVERY and frozen > 0 for threshold, frozen in seen)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    assert world.submitted > 50


def test_collector_restored_when_a_run_is_stopped(model_kit) -> None:
    """A check that raises (as a signal does) leaves the collector as it found it."""
    before = gc.get_threshold()
    world = _world(model_kit)
    calls = 0

    def stop() -> None:
        nonlocal calls
        calls += 1
        if calls == 100:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        world.run(check=stop)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_collector_left_alone_when_the_process_froze_objects(model_kit) -> None:
    """Objects the caller froze stay frozen after the run (out of every generation)."""
    marker: list[object] = []
    gc.freeze()
    try:
        _world(model_kit).run(steps=1)
        assert gc.get_freeze_count() > 0
        assert not any(tracked is marker for tracked in gc.get_objects())
    finally:
        gc.unfreeze()
    assert any(tracked is marker for tracked in gc.get_objects())
