"""Data mobility: datasets staged to where jobs run, checkpoints replicated to a second site."""

from __future__ import annotations

from collections.abc import Iterator

import simpy

from twin.model.factory import Factory
from twin.model.job import Job
from twin.model.network import Network

GB = 1e9


class DataMobility:
    """The network as the jobs see it: what must move before and while they run."""

    def __init__(
        self,
        env: simpy.Environment,
        network: Network,
        factories: list[Factory],
        stage_datasets: bool,
    ) -> None:
        self.env = env
        self.network = network
        self.factories = factories
        self.stage_datasets = stage_datasets
        self._replicas: dict[str, list[Factory]] = {}
        self.cached: set[tuple[int, str]] = set()
        """(catalogue dataset, site) pairs already copied: later jobs there need no staging."""
        self._copying: dict[tuple[int, str], simpy.Event] = {}
        self.connected = self._all_connected()
        """Whether every site can reach every other (then no placement needs a route check);
        recomputed, with the replicas, whenever a link is cut, restored or changes."""
        network.topology_listeners.append(self._topology_changed)

    def _all_connected(self) -> bool:
        network, factories = self.network, self.factories
        return all(network.reachable(a.id, b.id) for a in factories for b in factories)

    def _topology_changed(self) -> None:
        """Live routes: forget the replica order and check connectivity again."""
        self._replicas.clear()
        self.connected = self._all_connected()

    def needs_staging(self, job: Job, factory: Factory) -> bool:
        return (
            self.stage_datasets
            and job.origin is not None
            and job.origin != factory.id
            and job.dataset_gb > 0
            and (job.dataset is None or (job.dataset, factory.id) not in self.cached)
        )

    def can_reach(self, job: Job, factory: Factory) -> bool:
        """Whether the job's dataset could get to this factory."""
        if self.connected:
            return True
        return not self.needs_staging(job, factory) or self.network.reachable(
            job.origin or factory.id, factory.id
        )

    def staging_estimate_s(self, job: Job, factory: Factory) -> float:
        if not self.needs_staging(job, factory):
            return 0.0
        return self.network.estimate_s(job.origin or factory.id, factory.id, job.dataset_gb * GB)

    def stage(self, job: Job, factory: Factory) -> simpy.Event | None:
        """Copy the job's dataset to the factory (or join a copy already under way);
        None if nothing needs to move."""
        if not self.needs_staging(job, factory):
            return None
        assert job.origin is not None
        if job.dataset is None:
            return self.network.send(job.origin, factory.id, job.dataset_gb * GB, "dataset", job.id)
        key = (job.dataset, factory.id)
        if key not in self._copying:
            copy = self.network.send(job.origin, factory.id, job.dataset_gb * GB, "dataset", job.id)
            copy.callbacks.append(lambda _: self._copied(key))
            self._copying[key] = copy
        return self._copying[key]

    def _copied(self, key: tuple[int, str]) -> None:
        del self._copying[key]
        self.cached.add(key)

    def job_started(self, job: Job, factory: Factory) -> None:
        """Replicate the job's checkpoints to a second site as each completes in this run."""
        segment = job.segment
        if job.checkpoint_gb > 0 and segment is not None and segment.checkpoints:
            self.env.process(self._checkpoints(job, factory, segment.checkpoint_ends_s()))

    def _checkpoints(
        self, job: Job, factory: Factory, ends_s: list[float]
    ) -> Iterator[simpy.Event]:
        token, started_s = job.run_token, self.env.now
        for end_s in ends_s:
            yield self.env.timeout(max(0.0, started_s + end_s - self.env.now))
            if job.run_token != token:
                return  # the run was interrupted before this checkpoint completed
            replica = self.replica_for(factory)
            if replica is not None:
                self.network.send(
                    factory.id, replica.id, job.checkpoint_gb * GB, "checkpoint", job.id
                )

    def replica_for(self, factory: Factory) -> Factory | None:
        """The open site nearest (by route latency) to ``factory``, other than itself,
        among those it has a route to now."""
        replicas = self._replicas.get(factory.id)
        if replicas is None:
            reachable = [
                (route.latency_s, other.id, other)
                for other in self.factories
                if other is not factory
                and (route := self.network.topology.route(factory.id, other.id)) is not None
            ]
            replicas = self._replicas[factory.id] = [other for _, _, other in sorted(reachable)]
        for other in replicas:
            if other.online:
                return other
        return None
