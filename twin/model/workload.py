"""Training-job generator: a (diurnally modulated) Poisson stream of jobs for the broker.

Job attributes are drawn in blocks from their own named random streams, so changing one
distribution does not change the draws of the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import simpy

from twin.config.schema import MAX_POOL, Scenario, Training
from twin.model.calendar import DAY_S, Calendar
from twin.model.distributions import make_sampler, uniforms
from twin.model.job import Job
from twin.model.rng import stream

BLOCK = 1024


class TrainingWorkload:
    """Submits training jobs to ``submit`` from time 0 until the horizon."""

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        calendar: Calendar,
        submit: Callable[[Job], None],
    ) -> None:
        spec = scenario.workloads.training
        assert spec is not None
        self.env = env
        self.spec: Training = spec
        self.calendar = calendar
        self.submit = submit
        seed = scenario.seed
        self.rate_per_s = spec.arrivals_per_day / DAY_S
        diurnal = np.asarray(spec.diurnal or [1.0] * 24, dtype=float)
        self.diurnal = (diurnal / diurnal.max()).tolist()
        self.peak_rate_per_s = self.rate_per_s * float(diurnal.max() / diurnal.mean())
        self.arrival_rng = stream(seed, "training.arrivals")
        self._accelerators = blocks(
            make_sampler(spec.accelerators, stream(seed, "training.accelerators"))
        )
        self._duration = blocks(make_sampler(spec.duration_s, stream(seed, "training.duration")))
        dataset = spec.dataset_gb
        self._dataset = blocks(
            make_sampler(dataset, stream(seed, "training.dataset")) if dataset else _zeros
        )
        patience = spec.patience_s
        self._patience = (
            blocks(make_sampler(patience, stream(seed, "training.patience"))) if patience else None
        )
        self.failure_rng = stream(seed, "training.failures")
        self._failure_draws = uniforms(self.failure_rng)
        mix = spec.tenant_mix or {name: t.share for name, t in scenario.tenants.items()}
        self.tenants = list(mix)
        weights = np.asarray(list(mix.values()), dtype=float)
        self._tenant = blocks(_choice(len(self.tenants), weights, stream(seed, "training.tenants")))
        origins = spec.dataset_origins or {
            site.id: float(sum(pool.count for pool in site.pools)) for site in scenario.sites
        }
        self.origins = list(origins)
        self._origin = blocks(
            _choice(
                len(self.origins),
                np.asarray(list(origins.values())),
                stream(seed, "training.origins"),
            )
        )
        self.catalogue = self._catalogue(spec, seed) if spec.datasets else None
        self.allowed = tuple(spec.accelerator_types) if spec.accelerator_types else None
        checkpoint = spec.checkpoint_gb
        self._checkpoint = (
            blocks(make_sampler(checkpoint, stream(seed, "training.checkpoint")))
            if checkpoint
            else None
        )
        self.stop_s = min(scenario.horizon, spec.stop_after or scenario.horizon)
        self.submitted = 0

    def run(self) -> Iterator[simpy.Event]:
        """The SimPy process: wait for each arrival, then submit the job."""
        while True:
            gap = self._next_gap(self.env.now)
            if self.env.now + gap >= self.stop_s:
                return
            yield self.env.timeout(gap)
            self.submit(self._make_job())

    def _next_gap(self, now: float) -> float:
        """Time to the next arrival of a Poisson process with hourly rate (by thinning)."""
        t = now
        while True:
            t += self.arrival_rng.exponential(1.0 / self.peak_rate_per_s)
            accept = self.diurnal[self.calendar.hour_of_day(t)]
            if accept >= 1.0 or self.arrival_rng.random() < accept:
                return t - now

    def _catalogue(self, spec: Training, seed: int) -> DatasetCatalogue:
        """Datasets shared by jobs: sizes and origins drawn once, popularity Zipf-like."""
        count = int(spec.datasets or 0)
        sizes = [max(0.0, float(next(self._dataset))) for _ in range(count)]
        origins = [self.origins[int(next(self._origin))] for _ in range(count)]
        weights = 1.0 / np.arange(1, count + 1, dtype=float) ** spec.dataset_popularity
        pick = blocks(_choice(count, weights, stream(seed, "training.dataset_choice")))
        return DatasetCatalogue(sizes, origins, pick)

    def _draw_dataset(self) -> tuple[int | None, float, str]:
        """(catalogue id, size GB, origin site) of the next job's dataset."""
        if self.catalogue is None:
            return None, max(0.0, float(next(self._dataset))), self.origins[int(next(self._origin))]
        k = int(next(self.catalogue.pick))
        return k, self.catalogue.sizes_gb[k], self.catalogue.origins[k]

    def _make_job(self) -> Job:
        fails = next(self._failure_draws) < self.spec.failure_probability
        fail_fraction = next(self._failure_draws) if fails else None
        dataset, dataset_gb, origin = self._draw_dataset()
        checkpoint_gb = max(0.0, float(next(self._checkpoint))) if self._checkpoint else 0.0
        interval, write = self.spec.checkpoint_interval, self.spec.checkpoint_write_gbps
        young_daly = interval == "young_daly"
        job = Job(
            id=self.submitted,
            tenant=self.tenants[int(next(self._tenant))],
            accelerators=min(MAX_POOL, max(1, round(float(next(self._accelerators))))),
            work_s=max(1.0, float(next(self._duration))),
            walltime_factor=self.spec.walltime_factor,
            submit_s=self.env.now,
            dataset_gb=dataset_gb,
            origin=origin,
            dataset=dataset,
            fail_fraction=fail_fraction,
            patience_s=float(next(self._patience)) if self._patience else None,
            allowed_types=self.allowed,
            checkpoint_gb=checkpoint_gb,
            checkpoint_interval_s=None if young_daly else interval,  # type: ignore[arg-type]
            checkpoint_young_daly=young_daly,
            checkpoint_cost_s=checkpoint_gb / write if write else 0.0,
        )
        self.submitted += 1
        return job


@dataclass(frozen=True)
class DatasetCatalogue:
    sizes_gb: list[float]
    origins: list[str]
    pick: Iterator[float]
    """Draws catalogue indices by popularity."""


def _zeros(n: int) -> np.ndarray:
    return np.zeros(n)


def _choice(k: int, weights: np.ndarray, rng: np.random.Generator) -> Callable[[int], np.ndarray]:
    p = weights / weights.sum()
    return lambda n: rng.choice(k, size=n, p=p)


def blocks(sample: Callable[[int], np.ndarray]) -> Iterator[float]:
    """Draw ``BLOCK`` values at a time and hand them out one by one."""
    while True:
        yield from sample(BLOCK).tolist()
