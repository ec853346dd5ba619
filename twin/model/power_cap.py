"""Power caps that follow a schedule or a series: a campus that ramps up, demand response.

One SimPy process per site whose cap changes sets it at each step
(:meth:`Factory.set_power_cap`). When the cap falls below the draw, the site's
``power_cap_policy`` says what happens:

* ``drain`` (default): running jobs keep running; nothing new starts until the draw fits
  under the cap (jobs end, the cap rises again); the time over the cap is metered
  (``over_cap_s`` of the sites table).
* ``preempt``: the youngest running jobs are interrupted (as a failure would: they keep
  their last checkpoint and go back to the front of the queue) until the draw fits; the
  accelerators reserved by inference replicas and the idle draw are not shed, so a cap
  below them still shows time over the cap.
"""

from __future__ import annotations

from collections.abc import Iterator

import simpy

from twin.model.factory import POWER_TOLERANCE, Factory


def start_power_caps(env: simpy.Environment, factories: list[Factory]) -> int:
    """Start one process per factory whose cap changes within the run; returns how many."""
    started = 0
    for factory in factories:
        if factory.grid.cap_changes:
            env.process(_follow(env, factory))
            started += 1
    return started


def _follow(env: simpy.Environment, factory: Factory) -> Iterator[simpy.Event]:
    for at_s, power_mw in factory.grid.cap_changes:  # in order of time, all inside the run
        yield env.timeout(at_s - env.now)
        factory.set_power_cap(power_mw)
        if factory.site.power_cap_policy == "preempt":
            shed_load(factory)


def shed_load(factory: Factory) -> int:
    """Interrupt the youngest running jobs until the draw fits under the cap; returns how
    many were interrupted. The scheduler acts once afterwards."""
    youngest = sorted(
        factory.running.values(), key=lambda job: (job.segment_start_s, job.id), reverse=True
    )
    shed = 0
    for job in youngest:
        if factory.power_w <= factory.cap_w * (1 + POWER_TOLERANCE):
            break
        factory.interrupt(job, "power_cap")
        shed += 1
    if shed:
        factory.release_resources()
    return shed
