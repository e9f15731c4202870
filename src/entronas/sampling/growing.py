"""What is new in a set that (usually) only grows between calls.

Why: a study's taken set is handed to the policies after every trial; recounting it costs
O(|taken|) in Python each time. Policies that keep per-cluster counts or pool positions ask
this instead for the members added since their last call, and start over when the set shrank
(a surplus trial gave its candidate back).
"""

from __future__ import annotations

from typing import Collection


class GrowingSet:
    """The members of ``taken`` seen so far (``seen``) and what each call adds."""

    def __init__(self) -> None:
        self.seen: set[int] = set()

    def update(self, taken: Collection[int]) -> tuple[set[int], bool]:
        """(members of ``taken`` new since the last call, whether it started over because
        ``taken`` lost a member seen before)."""
        t = taken if isinstance(taken, (set, frozenset)) else set(taken)
        reset = not self.seen <= t
        if reset:
            self.seen = set()
        new = t - self.seen
        self.seen |= new
        return new, reset
