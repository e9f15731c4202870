"""The cost-greedy baseline: the most expensive feasible networks first.

Why: with the paper's 100 clusters and p = 0.5, entropy sampling behaves almost like "take the
highest-entropy networks first", and on published width benchmarks "largest MACs first" ties
or beats it on many budgets. Any claim for a strategy has to beat this deterministic order.
"""

from __future__ import annotations

from typing import Collection

import numpy as np


class GreedyPolicy:
    """Candidates in descending ``cost`` (ties: lower position first), never one twice."""

    uses_history = False

    def __init__(self, cost: np.ndarray) -> None:
        cost = np.asarray(cost)
        self.n = len(cost)
        self.order = np.lexsort((np.arange(self.n), -cost.astype(np.float64)))

    def suggest(self, rng: object, taken: Collection[int] = (),
                history: object = None) -> int | None:
        taken_set = taken if isinstance(taken, (set, frozenset)) else set(taken)
        for i in self.order:
            if int(i) not in taken_set:
                return int(i)
        return None
