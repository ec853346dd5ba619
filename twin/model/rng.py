"""Named random streams derived from the scenario seed.

Each stream's generator is seeded by ``SeedSequence(seed, spawn_key=(crc32(name),))``, so a
stream depends only on the seed and its own name: adding a stream never shifts the others.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, name: str) -> np.random.Generator:
    """The generator of stream ``name`` for scenario seed ``seed``."""
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(key,))))
