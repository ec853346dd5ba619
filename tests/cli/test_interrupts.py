"""The Stop of a run: a signal is never lost, even if the exception its handler raised was
swallowed on its way (C code that clears errors, a ``__del__``), and later signals wait."""

from __future__ import annotations

import signal

import pytest

from twin.interrupts import RunInterrupted, Stop


def test_a_signal_whose_exception_was_swallowed_is_raised_again_at_the_next_check():
    stop = Stop()
    with pytest.raises(RunInterrupted):  # immediate: raised from the handler itself ...
        stop.handle(signal.SIGINT, None)
    # ... and swallowed where it was raised, as error-clearing C code does
    with pytest.raises(RunInterrupted) as raised:
        stop.check()
    assert raised.value.exit_code == 130
    stop.acknowledge()  # the run is closing because of it
    stop.check()  # no more


def test_a_signal_while_deferred_waits_for_the_check_and_later_ones_are_ignored():
    stop = Stop()
    with stop.deferred():
        stop.handle(signal.SIGTERM, None)  # only recorded
        stop.handle(signal.SIGINT, None)  # a second signal changes nothing
    assert stop.signum == signal.SIGTERM
    with pytest.raises(RunInterrupted) as raised:
        stop.check()
    assert raised.value.signal_name == "SIGTERM" and raised.value.exit_code == 143


def test_no_signal_no_interruption():
    stop = Stop()
    stop.check()
    assert not stop.requested
