"""One seeding story: ``seed: int | None`` everywhere, numpy Generators inside."""

from __future__ import annotations

import numpy as np


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """Turn a seed (or an existing Generator) into a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def derive_seed(root: int | None, *keys: int) -> int:
    """A 32-bit seed derived from ``root`` and integer keys (e.g. a trial number).

    Different keys give independent streams; the same keys give the same seed.
    """
    entropy = 0 if root is None else int(root)
    ss = np.random.SeedSequence(entropy, spawn_key=tuple(int(k) for k in keys))
    return int(ss.generate_state(1, dtype=np.uint32)[0])
