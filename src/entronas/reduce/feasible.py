"""The read interface shared by every representation of X^f.

Global indices run depth by depth (shallowest first); inside a depth the representation decides
the order (lexicographic for trees). Subclasses provide per-depth rank/unrank on grid positions.
"""

from __future__ import annotations

import itertools
import sys
from typing import Any, Iterator, Sequence

import numpy as np

from .._core.arch import Arch
from .._core.errors import NotInSpaceError
from .._core.rng import as_generator


class FeasibleSet:
    """``len``, ``set[i] -> Arch``, ``index_of``, ``in``, ``widths_of`` and uniform ``sample``."""

    def __init__(self, space: Any, sizes: dict[int, int], meta: dict[str, Any] | None) -> None:
        self.space = space
        self.meta = dict(meta or {})
        self._depth_list = [d for d in sorted(sizes) if sizes[d] > 0]
        self._depths = np.array(self._depth_list, dtype=np.int64)
        self._sizes = {d: int(sizes[d]) for d in self._depth_list}
        offsets = [0, *itertools.accumulate(self._sizes[d] for d in self._depth_list)]
        #: exact at any size: Python integers once X^f reaches 2^62 members
        self.big = offsets[-1] >= 2 ** 62
        self._offsets = np.array(offsets, dtype=object if self.big else np.int64)
        self.grids = {d: [np.asarray(space.grid(d, i), dtype=np.int64) for i in range(d)]
                      for d in self._depth_list}

    # -- to implement ------------------------------------------------------------------------
    def _unrank(self, depth: int, local: np.ndarray) -> np.ndarray:
        """Grid positions (N x depth) of in-depth indices."""
        raise NotImplementedError

    def _rank(self, depth: int, pos: np.ndarray) -> int | None:
        """In-depth index of one grid-position vector, None if it is not a member."""
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        """|X^f|, exact (a Python integer at any size)."""
        return int(self._offsets[-1])

    def __len__(self) -> int:
        if self.size > sys.maxsize:
            raise OverflowError(f"X^f has {self.size:,} members, more than len() can return; "
                                "use .size")
        return self.size

    def _index_array(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        return np.asarray(indices, dtype=object if self.big else np.int64)

    @property
    def depths(self) -> list[int]:
        return list(self._depth_list)

    def count(self, depth: int) -> int:
        return self._sizes.get(depth, 0)

    def __getitem__(self, i: int) -> Arch:
        return Arch(self.space.name, self.widths_of([i])[0])

    def widths_of(self, indices: Sequence[int] | np.ndarray) -> list[tuple[int, ...]]:
        """Width tuples of many global indices (vectorised per depth)."""
        out: list[tuple[int, ...]] = [()] * len(indices)
        for depth, sel, pos in self.positions_by_depth(indices):
            for s, row in zip(sel.tolist(), self.positions_to_widths(depth, pos).tolist()):
                out[s] = tuple(row)
        return out

    def positions_by_depth(self, indices: Sequence[int] | np.ndarray
                           ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(depth, where in ``indices``, grid positions N x depth) for each depth present: the
        vectorised form of :meth:`widths_of` for callers that compute on grid positions."""
        for depth, sel, local in self._by_depth(indices):
            yield depth, sel, self._unrank(depth, local)

    def _by_depth(self, indices: Sequence[int] | np.ndarray
                  ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(depth, where in ``indices``, in-depth indices) for each depth present."""
        idx = self._index_array(indices)
        if len(idx) and (idx.min() < 0 or idx.max() >= self.size):
            raise IndexError(f"index out of range for a feasible set of {self.size:,}")
        which = np.searchsorted(self._offsets, idx, side="right") - 1
        for k, depth in enumerate(self._depth_list):
            sel = np.nonzero(which == k)[0]
            if len(sel):
                yield depth, sel, idx[sel] - self._offsets[k]

    def positions_to_widths(self, depth: int, pos: np.ndarray) -> np.ndarray:
        grids = self.grids[depth]
        return np.stack([grids[j][pos[:, j]] for j in range(depth)], axis=1)

    def index_of(self, arch: Arch | Sequence[int]) -> int:
        """Global index of ``arch``; NotInSpaceError if it is not in X^f."""
        widths = tuple(arch.widths if isinstance(arch, Arch) else arch)
        depth = len(widths)
        if depth in self._sizes:
            grids = self.grids[depth]
            pos = [int(np.searchsorted(g, w)) for g, w in zip(grids, widths)]
            if all(p < len(g) and g[p] == w for p, g, w in zip(pos, grids, widths)):
                r = self._rank(depth, np.array(pos, dtype=np.int64))
                if r is not None:
                    return int(self._offsets[self._depth_list.index(depth)]) + r
        raise NotInSpaceError(f"{list(widths)} is not in the feasible set of {self.space.name!r}")

    def __contains__(self, arch: object) -> bool:
        try:
            self.index_of(arch)  # type: ignore[arg-type]
        except NotInSpaceError:
            return False
        return True

    def sample(self, n: int, seed: int | np.random.Generator | None = None, *,
               replace: bool = True) -> np.ndarray:
        """``n`` uniform global indices of X^f, with or without replacement."""
        rng = as_generator(seed)
        total = self.size
        if self.big:  # uniform Python integers below total (exact, any size)
            return _sample_big(rng, total, n, replace)
        if replace:
            return rng.integers(0, total, size=n, dtype=np.int64)
        if n > total:
            raise ValueError(f"cannot draw {n} distinct members from {total}")
        if total <= 10_000_000:
            return rng.choice(total, size=n, replace=False).astype(np.int64)
        out: set[int] = set()
        while len(out) < n:
            out.update(int(v) for v in rng.integers(0, total, size=n - len(out)))
        return rng.permutation(np.fromiter(out, dtype=np.int64))


def _randbelow(rng: np.random.Generator, total: int, n: int) -> list[int]:
    """``n`` uniform integers in [0, total) of any size: random bits, rejection above total."""
    bits = total.bit_length()
    words = (bits + 31) // 32
    out: list[int] = []
    while len(out) < n:
        need = n - len(out)
        draw = rng.integers(0, 2 ** 32, size=(2 * need + 8, words), dtype=np.uint64)
        for row in draw:
            v = 0
            for w in row:
                v = (v << 32) | int(w)
            v >>= words * 32 - bits
            if v < total:
                out.append(v)
                if len(out) == n:
                    break
    return out


def _sample_big(rng: np.random.Generator, total: int, n: int, replace: bool) -> np.ndarray:
    if replace:
        return np.array(_randbelow(rng, total, n), dtype=object)
    if n > total:
        raise ValueError(f"cannot draw {n} distinct members from {total}")
    out: dict[int, None] = {}
    while len(out) < n:
        out.update(dict.fromkeys(_randbelow(rng, total, n - len(out))))
    return np.array(list(out), dtype=object)
