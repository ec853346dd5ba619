"""The Dask cluster a sweep runs on: local worker processes, a running scheduler, or SLURM.

A local cluster has one single-threaded worker process per point at a time (a point is one
single-threaded simulation), no dashboard, a quiet log, and workers that leave Ctrl-C to
the driver (:mod:`twin.sweep.worker`). On SLURM (``dask-jobqueue``) each
batch job runs ``cores`` single-threaded workers; ``jobs`` batch jobs are asked for.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from twin.config import TwinUserError

WORKER_SETUP = "twin.sweep.worker"
"""The preload module of local workers (they leave Ctrl-C to the driver)."""
QUIET_HTTP = "127.0.0.1:0"
"""The scheduler's HTTP endpoint (health checks, no dashboard): a free port of this machine
only, not Dask's default 8787, which another cluster may hold."""


@dataclass(frozen=True)
class SlurmOptions:
    """What each SLURM batch job asks for (``None``: the site's or dask-jobqueue's default)."""

    jobs: int = 1
    cores: int = 1
    memory: str = "4GB"
    queue: str | None = None
    account: str | None = None
    walltime: str | None = None


def default_workers() -> int:
    """One worker per core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def slurm_cluster(options: SlurmOptions) -> Any:
    """A ``dask_jobqueue.SLURMCluster`` for ``options`` (no job is submitted until scaled)."""
    from dask_jobqueue import SLURMCluster

    return SLURMCluster(
        cores=options.cores,
        processes=options.cores,
        memory=options.memory,
        queue=options.queue,
        account=options.account,
        walltime=options.walltime,
        scheduler_options={"dashboard": False, "dashboard_address": QUIET_HTTP},
    )


@contextmanager
def open_client(
    workers: int | None = None,
    scheduler: str | None = None,
    slurm: SlurmOptions | None = None,
) -> Iterator[Any]:
    """A ``distributed.Client``: connected to ``scheduler`` if given, else on SLURM if
    ``slurm``, else on a local cluster of ``workers`` processes (default: one per core)."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as error:
            raise TwinUserError(f"--scheduler {scheduler}: cannot connect: {error}") from None
        with client:
            yield client
        return
    if slurm is not None:
        with slurm_cluster(slurm) as cluster, Client(cluster) as client:
            cluster.scale(jobs=slurm.jobs)
            yield client
        return
    with (
        _quiet_when_stopped() as quiet,
        LocalCluster(
            n_workers=workers or default_workers(),
            threads_per_worker=1,
            processes=True,
            dashboard_address=QUIET_HTTP,
            scheduler_kwargs={"dashboard": False},
            silence_logs=logging.ERROR,
            preload=[WORKER_SETUP],
        ) as cluster,
        Client(cluster) as client,
    ):
        try:
            yield client
        except BaseException:
            quiet()  # a stop (Ctrl-C, an error): the shutdown's own complaints are noise
            raise


@contextmanager
def _quiet_when_stopped() -> Iterator[Any]:
    """Gives a function that silences Dask's loggers (the scheduler, in this process, logs
    tracebacks of the connections a stopped sweep cuts while the cluster closes); their
    levels are restored once the cluster is closed."""
    names = [
        "distributed",
        *(n for n in logging.root.manager.loggerDict if n.startswith("distributed.")),
    ]
    saved = {name: logging.getLogger(name).level for name in names}

    def silence() -> None:
        for name in list(logging.root.manager.loggerDict):
            if name == "distributed" or name.startswith("distributed."):
                saved.setdefault(name, logging.getLogger(name).level)
                logging.getLogger(name).setLevel(logging.CRITICAL + 1)

    try:
        yield silence
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
