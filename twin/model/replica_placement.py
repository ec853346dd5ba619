"""Where a service's replicas go: the pool of a factory that can hold one (the fastest
allowed that fits the model), and the config error when no hosting site can."""

from __future__ import annotations

from twin.config.errors import ConfigIssue
from twin.config.schema import Service
from twin.model.factory import Factory, Pool
from twin.model.iteration import IterationModel, ReplicaDoesNotFitError, iteration_model


def choose_pool(service: Service, factory: Factory) -> tuple[Pool | None, IterationModel | None]:
    """The fastest pool of ``factory`` that can hold a replica of ``service``: an allowed
    accelerator type, at least ``accelerators_per_replica`` accelerators, and for ``llm``
    room for the weights and a KV cache. ``(None, None)`` if there is none."""
    pool, model, _ = pool_and_reason(service, factory)
    return pool, model


def pool_and_reason(
    service: Service, factory: Factory
) -> tuple[Pool | None, IterationModel | None, dict[str, list[str]]]:
    """:func:`choose_pool`, and why each pool was passed over (reason → pool names)."""
    allowed = service.accelerator_types
    why: dict[str, list[str]] = {"type": [], "size": [], "model": []}
    for pool in sorted(factory.pools.values(), key=lambda p: (-p.spec.speed, p.accelerator)):
        if allowed is not None and pool.accelerator not in allowed:
            why["type"].append(pool.accelerator)
            continue
        if pool.total < service.accelerators_per_replica:
            why["size"].append(f"{pool.total} × {pool.accelerator}")
            continue
        if service.kind != "llm":
            return pool, None, why
        try:
            return pool, iteration_model(service, pool.spec), why
        except ReplicaDoesNotFitError as error:
            why["model"].append(f"{pool.accelerator}: {error}")
    return None, None, why


def placement_issue(path: str, service: Service, unplaced: dict[str, dict]) -> ConfigIssue:
    """Why no hosting site of ``service`` can hold a replica (the most specific reason)."""
    sites = ", ".join(unplaced)
    g = service.accelerators_per_replica
    if any(why["model"] for why in unplaced.values()):
        detail = "; ".join(f"{site}: {', '.join(why['model'])}" for site, why in unplaced.items())
        return ConfigIssue(
            f"{path}.model",
            f"the model fits no accelerator pool at its hosting sites ({detail}); expected "
            f"weights plus a KV cache that fit in {g} accelerators of some hosting site's "
            "pool (a smaller model, more accelerators_per_replica, or another site)",
        )
    if any(why["size"] for why in unplaced.values()):
        detail = "; ".join(f"{site}: {', '.join(why['size'])}" for site, why in unplaced.items())
        return ConfigIssue(
            f"{path}.accelerators_per_replica",
            f"no pool at its hosting sites has {g} accelerators ({detail}); expected at most "
            "the size of some hosting site's pool",
        )
    return ConfigIssue(
        f"{path}.accelerator_types",
        f"no hosting site ({sites}) has a pool of an allowed accelerator type "
        f"({', '.join(service.accelerator_types or [])}); expected a type present at one of them",
    )
