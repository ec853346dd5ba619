"""The point catalogue: one ordinary run directory per point, named by its content address.

A sweep keeps its points in ``DIR/points/<point>/`` unless it is given a shared catalogue
folder (then ``CATALOGUE/<point>/``, so sweeps in different folders share their runs). A
point is done when its run directory's manifest says ``complete`` with the point's
``config_hash`` and seed; anything else there (an incomplete run, a run killed outright, a
foreign run) is run again over it, through the run writer's own ``--overwrite`` rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from twin.simulation import config_hash
from twin.sweep.points import Point
from twin.trace.layout import read_twin_manifest

POINTS = "points"
"""The catalogue's folder inside a sweep directory (unless one is shared)."""


@dataclass(frozen=True)
class Catalogue:
    """Where the points' run directories are."""

    root: Path

    @classmethod
    def of_sweep(cls, sweep_dir: Path, shared: Path | None = None) -> Catalogue:
        """The catalogue a sweep in ``sweep_dir`` uses: ``shared`` or ``sweep_dir/points``."""
        return cls(Path(shared) if shared is not None else Path(sweep_dir) / POINTS)

    def run_dir(self, point: Point) -> Path:
        return self.root / point.key

    def is_done(self, point: Point) -> bool:
        """Whether the point's run directory holds its complete run."""
        return run_is_done(self.run_dir(point), config_hash(point.scenario), point.seed)


def run_is_done(run_dir: Path, expected_hash: str, seed: int) -> bool:
    """Whether ``run_dir`` holds a complete run of the config hashed ``expected_hash``."""
    manifest = read_twin_manifest(run_dir)
    return (
        manifest is not None
        and manifest.get("status") == "complete"
        and manifest.get("config_hash") == expected_hash
        and manifest.get("seed") == seed
    )
