"""What is new in a set that (usually) only grows between calls.

Why: a study's taken set is handed to the policies after every trial; recounting it costs
O(|taken|) in Python each time. Policies that keep per-cluster counts or pool positions ask
this instead for the members added since their last call, and start over when the set shrank
(a surplus trial gave its candidate back). Where the producer hands out the same
:class:`AppendOnlySet` each time (the sampler's taken set while no other trial is running),
that costs O(new members); any other collection is compared whole, O(|taken|).
"""

from __future__ import annotations

from typing import Any, Collection, Iterable


class AppendOnlySet(set):
    """A ``set`` that logs the order its members were added (``log``), so a consumer can take
    what is new since its last look by position. Removing anything bumps ``generation``
    (consumers then compare whole sets again)."""

    def __init__(self, items: Iterable[int] = ()) -> None:
        super().__init__()
        self.log: list[int] = []
        self.generation = 0
        self.update(items)

    def add(self, item: int) -> None:
        if item not in self:
            super().add(item)
            self.log.append(item)

    def update(self, *others: Iterable[int]) -> None:  # type: ignore[override]
        for other in others:
            for item in other:
                self.add(item)

    def __ior__(self, other: Any) -> "AppendOnlySet":  # type: ignore[override]
        self.update(other)
        return self

    def _shrunk(self) -> None:
        self.generation += 1
        self.log = list(self)

    def discard(self, item: int) -> None:
        if item in self:
            super().discard(item)
            self._shrunk()

    def remove(self, item: int) -> None:
        super().remove(item)
        self._shrunk()

    def pop(self) -> int:
        item = super().pop()
        self._shrunk()
        return item

    def clear(self) -> None:
        super().clear()
        self._shrunk()

    def difference_update(self, *others: Iterable[int]) -> None:
        super().difference_update(*others)
        self._shrunk()

    def intersection_update(self, *others: Iterable[int]) -> None:
        super().intersection_update(*others)
        self._shrunk()

    def symmetric_difference_update(self, other: Iterable[int]) -> None:
        super().symmetric_difference_update(other)
        self._shrunk()

    def __isub__(self, other: Any) -> "AppendOnlySet":  # type: ignore[override]
        self.difference_update(other)
        return self

    def __iand__(self, other: Any) -> "AppendOnlySet":  # type: ignore[override]
        self.intersection_update(other)
        return self

    def __ixor__(self, other: Any) -> "AppendOnlySet":  # type: ignore[override]
        self.symmetric_difference_update(other)
        return self


class GrowingSet:
    """The members of ``taken`` seen so far (``seen``) and what each call adds."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self._source: AppendOnlySet | None = None   # the append-only set last compared whole
        self._generation = 0
        self._read = 0                              # how much of its log has been read

    def update(self, taken: Collection[int]) -> tuple[set[int], bool]:
        """(members of ``taken`` new since the last call, whether it started over because
        ``taken`` lost a member seen before)."""
        if taken is self._source and taken.generation == self._generation:
            # the same append-only set, nothing removed: seen is a subset of it, read on
            new = {i for i in taken.log[self._read:] if i not in self.seen}
            self._read = len(taken.log)
            self.seen |= new
            return new, False
        t = taken if isinstance(taken, (set, frozenset)) else set(taken)
        reset = not self.seen <= t
        if reset:
            self.seen = set()
        new = t - self.seen
        self.seen |= new
        if isinstance(taken, AppendOnlySet):
            self._source, self._generation, self._read = taken, taken.generation, len(taken.log)
        else:
            self._source = None
        return new, reset
