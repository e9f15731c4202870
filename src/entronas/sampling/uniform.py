"""Uniform sampling over X^f (the paper's random-search baseline samples from X^f)."""

from __future__ import annotations

from typing import Collection

import numpy as np

from .._core.rng import as_generator
from .._core.validation import check_number


class UniformPolicy:
    """Uniform over indices 0..n-1, optionally never repeating an index in ``taken``."""

    def __init__(self, n: int) -> None:
        self.n = check_number(n, "n", "UniformPolicy", lo=1, integer=True)

    def suggest(self, rng: np.random.Generator | int | None,
                taken: Collection[int] = ()) -> int | None:
        rng = as_generator(rng)
        if len(taken) >= self.n:
            return None
        taken_set = taken if isinstance(taken, (set, frozenset)) else set(taken)
        for _ in range(64):  # rejection is cheap while most candidates are free
            i = int(rng.integers(self.n))
            if i not in taken_set:
                return i
        free = np.setdiff1d(np.arange(self.n), np.fromiter(taken_set, dtype=np.int64))
        return int(free[rng.integers(len(free))]) if len(free) else None

    def sample(self, k: int, seed: int | None = None, *, replace: bool = False) -> np.ndarray:
        rng = as_generator(seed)
        return rng.choice(self.n, size=k, replace=replace)
