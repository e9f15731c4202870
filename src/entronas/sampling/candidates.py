"""Candidates: X^f with the entropy of every candidate and its cluster, ready to draw from.

Why one artefact: ``entronas sample`` and ``entronas search`` both need the same three things
(the feasible set, Eq. 6 entropies, exact k-means clusters sorted by entropy); building them in
one place and storing them in one format means a search worker loads what ``reduce`` made
instead of re-deriving it, and every strategy draws from identical candidates.

For an enumerated feasible set (:class:`~entronas.reduce.FeasibleTree`) the candidates are all
of X^f, with one entropy per member (exact). A set too large to list is, where its DAG can be
built, represented by that DAG and the exact distribution of Eq. 6 over it
(:class:`~entronas.proxy.distribution.EntropyDistribution`): the clusters are fitted on every
member (each distinct entropy weighted by its count), the entropy strategy draws from all of
X^f, and strategies that need a table of every candidate (greedy, bo) work on a uniform pool of
it, labelled by the exact clusters (spaces of named dimensions too, for a classifier). Where
no DAG or distribution is possible (sets above int64, two binding budgets, too many histogram
entries),
the clusters are fitted on a uniform pool and candidates are the pool's members: uniform inside
each cluster's sampled members, estimated cluster boundaries.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Sequence

import numpy as np

from .._core.arch import Arch
from .._core.errors import CorruptFileError, NotInSpaceError
from .._core.fileio import atomic_write
from .._core.registry import Registry
from .._core.rng import as_generator
from .._core.validation import check_choice
from ..proxy.clusters import EntropyClusters
from ..proxy.distribution import DistributionUnavailable
from ..proxy.entropy import (entropies, entropy, entropy_tables, position_entropies,
                             tree_entropies)
from .entropy import DistributionEntropyPolicy, EntropyPolicy
from .growing import AppendOnlySet, GrowingSet
from .surrogate import DEFAULT_MODEL, DEFAULT_N_STARTUP, DEFAULT_START
from .uniform import UniformPolicy

def _greedy(c: "Candidates", cost: str = "macs") -> Any:
    from .greedy import GreedyPolicy

    check_choice(cost, "cost", "the greedy strategy (--cost)", ("macs", "params", "entropy"))
    return GreedyPolicy(c.entropy if cost == "entropy" else c.costs()[cost])


def _bo(c: "Candidates", model: str = DEFAULT_MODEL, n_startup: int = DEFAULT_N_STARTUP,
        start: str = DEFAULT_START, gamma: float = 0.25, p: float = 0.5, seed: int = 0) -> Any:
    from .features import CHOICE_COLUMNS, SUMMARY_COLUMNS, WIDTH_COLUMNS
    from .surrogate import SurrogatePolicy

    f = c.features()
    return SurrogatePolicy(f, c.clusters.labels_, model=model, n_startup=n_startup,
                           start=start, gamma=gamma, p=p, choices=f[:, CHOICE_COLUMNS],
                           summary=f[:, SUMMARY_COLUMNS], macs=c.costs()["macs"],
                           log_widths=f[:, WIDTH_COLUMNS], seed=seed)


def _read_file(path: str | os.PathLike) -> tuple[bytes, dict[str, Any], list[np.ndarray]]:
    """(bytes, header, arrays) of a candidates or feasible-set file; one line if missing."""
    from ..reduce.tree import read_container

    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise CorruptFileError(f"file {str(path)!r} does not exist; create it with "
                               "`entronas reduce SPACE --target T --out FILE`") from None
    header, arrays = read_container(data, str(path))
    return data, header, arrays


#: pure candidate policies by name: factory(candidates, **params) -> object with suggest()
POLICIES: Registry[Callable[..., Any]] = Registry("sampling strategy")
def _entropy(c: "Candidates", p: float = 0.5) -> Any:
    if c.distribution is not None:
        return DistributionEntropyPolicy(c.distribution, c.clusters.labels_, p=p)
    return EntropyPolicy(c.clusters.labels_, p=p)


POLICIES.register("entropy", _entropy)
POLICIES.register("uniform", lambda c: UniformPolicy(c.n_candidates))
POLICIES.register("greedy", _greedy)
POLICIES.register("bo", _bo)

KIND = "candidates"
#: policies that draw from the whole of a distribution-backed X^f; the others need a table of
#: every candidate and get a uniform pool of it
WHOLE_SET = frozenset({"entropy", "uniform"})
#: sets up to this size list one entropy per member; larger ones use the exact distribution
LIST_LIMIT = 5_000_000
#: candidates whose widths are remembered (cleared when full)
WIDTHS_MEMO = 100_000


class CandidatePolicy:
    """A policy over candidate positions, handing out global indices of X^f."""

    def __init__(self, name: str, inner: Any, candidates: "Candidates") -> None:
        self.name, self.inner, self.candidates = name, inner, candidates

    @property
    def uses_history(self) -> bool:
        return bool(getattr(self.inner, "uses_history", False))

    def suggest(self, rng: np.random.Generator | int | None, taken: Collection[int] = (),
                history: Sequence[tuple[int, float]] | None = None) -> int | None:
        """A global index not in ``taken``; None when the candidates are used up.

        ``history``: (global index, score) of finished trials, for policies that learn.
        """
        c = self.candidates
        if self.uses_history:
            hist = [(c.position(i), s) for i, s in (history or ())]
            k = self.inner.suggest(as_generator(rng), c.positions(taken),
                                   [(pos, s) for pos, s in hist if pos is not None])
        else:
            k = self.inner.suggest(as_generator(rng), c.positions(taken))
        return None if k is None else c.index_at(int(k))

    def draws(self, rng: np.random.Generator | int | None, k: int) -> list[int]:
        """``k`` distinct global indices, as ``k`` calls of :meth:`suggest` with a growing
        taken set would give them, without recounting the taken set each time (policies
        that do not learn; a policy without ``draws`` is asked one by one)."""
        c = self.candidates
        if self.uses_history or not hasattr(self.inner, "draws"):
            taken: set[int] = set()
            out = []
            for _ in range(k):
                i = self.suggest(rng, taken)
                if i is None:
                    break
                taken.add(i)
                out.append(i)
            return out
        return [c.index_at(int(p)) for p in self.inner.draws(as_generator(rng), k)]


@dataclass
class Candidates:
    """The feasible set, the entropy of every candidate and its cluster (0 = highest entropy).

    Attributes:
        feasible: the :class:`~entronas.reduce.FeasibleSet`.
        entropy: Eq. 6 of every candidate, in candidate order.
        clusters: fitted :class:`~entronas.proxy.EntropyClusters` over ``entropy``.
        indices: global indices of the pool (None: the candidates are all of X^f in order).
        settings: ``n_clusters``, ``output``, ``pool``, ``seed`` it was built with.
        distribution: the exact entropy distribution of a set too large to list (then
            ``entropy`` and the cluster labels are per distinct value of it), else None.
    """

    feasible: Any
    entropy: np.ndarray
    clusters: EntropyClusters
    indices: np.ndarray | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    distribution: Any = None
    _pos: dict[int, int] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.indices is not None:
            self._pos = {int(g): k for k, g in enumerate(self.indices)}
        self._taken = GrowingSet()   # what positions() has mapped so far
        self._taken_pos = AppendOnlySet()
        self._widths_memo: dict[int, tuple[int, ...]] = {}   # see widths()
        self._index_memo: dict[tuple[int, ...], int] = {}

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, feasible: Any, *, n_clusters: int = 100, output: str = "network",
              pool: int = 200_000, seed: int = 0,
              log: Callable[[str], None] | None = None) -> "Candidates":
        """Entropies and exact k-means clusters of ``feasible`` (a pool of it when counted;
        ``log`` hears one line first, as that takes seconds)."""
        settings = {"n_clusters": int(n_clusters), "output": output, "pool": int(pool),
                    "seed": int(seed)}
        if hasattr(feasible, "depth_array") and feasible.size <= LIST_LIMIT:
            h = tree_entropies(feasible, output=output)
            return cls(feasible, h, EntropyClusters(n_clusters).fit(h), None, settings)
        try:
            dist = _distribution(feasible, output, log)
        except DistributionUnavailable as exc:
            if log:
                log(f"exact entropy clusters are not possible here: {exc}")
            return cls._pooled(feasible, n_clusters, output, pool, seed, log, settings)
        clusters = EntropyClusters(n_clusters).fit(dist.h, sample_weight=dist.weights)
        return cls(dist.tree, dist.h, clusters, None, dict(settings, clusters="exact"), dist)

    @classmethod
    def _pooled(cls, feasible: Any, n_clusters: int, output: str, pool: int, seed: int,
                log: Callable[[str], None] | None, settings: dict[str, Any],
                clusters: EntropyClusters | None = None) -> "Candidates":
        """Candidates = a uniform pool of ``feasible``; clusters fitted on it, or (given) the
        exact ones, whose edges label the pool."""
        n = min(pool, feasible.size)
        if log and clusters is None:
            log(f"X^f has {feasible.size:,} networks (not listed): clustering the entropies "
                f"of a uniform pool of {n:,} of them ...")
        indices = np.unique(feasible.sample(n, seed, replace=n < feasible.size))
        h = _pool_entropies(feasible, indices, output)
        if clusters is None:
            clusters = EntropyClusters(n_clusters).fit(h)
        else:
            exact, clusters = clusters, EntropyClusters(n_clusters)
            clusters.__dict__.update(exact.__dict__)
            clusters.labels_ = exact.predict(h)
            clusters.sizes_ = np.bincount(clusters.labels_, minlength=exact.n_clusters_)
        return cls(feasible, h, clusters, indices, settings)

    def pooled(self) -> "Candidates":
        """A uniform pool of a distribution-backed X^f, labelled by its exact clusters, for
        the strategies that need a table of every candidate (built once)."""
        if self.distribution is None:
            return self
        if "_pool" not in self.__dict__:
            s = self.settings
            self.__dict__["_pool"] = self._pooled(
                self.feasible, s["n_clusters"], s["output"], s["pool"], s["seed"], None,
                dict(s), self.clusters)
        return self.__dict__["_pool"]

    # ------------------------------------------------------------------ reading
    @property
    def space(self) -> Any:
        return self.feasible.space

    @property
    def exact(self) -> bool:
        return self.indices is None

    @property
    def n_candidates(self) -> int:
        return self.feasible.size if self.distribution is not None else len(self.entropy)

    def __len__(self) -> int:
        return len(self.feasible)

    def costs(self) -> dict[str, np.ndarray]:
        """MACs and parameters of every candidate (computed once)."""
        self._check_table()
        if not hasattr(self, "_costs"):
            from .features import candidate_widths, member_costs

            self._costs = member_costs(self.space, candidate_widths(self))
        return self._costs

    def features(self) -> np.ndarray:
        """The model-based strategies' feature matrix (computed once, see features.py)."""
        self._check_table()
        if not hasattr(self, "_features"):
            from .features import feature_matrix

            self._features = feature_matrix(self)
        return self._features

    def _check_table(self) -> None:
        if self.distribution is not None:
            raise TypeError("a distribution-backed X^f has no per-candidate table; use "
                            ".pooled()")

    def policy(self, name: str, **params: Any) -> CandidatePolicy:
        """The pure policy ``name`` over these candidates (a distribution-backed X^f hands the
        strategies outside WHOLE_SET its uniform pool)."""
        factory = POLICIES.get(name)
        base = self if name in WHOLE_SET else self.pooled()
        return CandidatePolicy(name, factory(base, **params), base)

    def index_at(self, position: int) -> int:
        return position if self.indices is None else int(self.indices[position])

    def position(self, index: int) -> int | None:
        return int(index) if self._pos is None else self._pos.get(int(index))

    def positions(self, taken: Collection[int]) -> Collection[int]:
        """Pool positions of the global indices ``taken`` (incremental: a study's taken set
        only grows, so only its new members are looked up)."""
        if self._pos is None:
            return taken
        new, reset = self._taken.update(taken)
        if reset:
            self._taken_pos = AppendOnlySet()
        self._taken_pos |= {self._pos[g] for g in new if g in self._pos}
        return self._taken_pos   # live and append-only: the policies read what is new

    def widths(self, index: int) -> tuple[int, ...]:
        """The widths of candidate ``index``, memoised: every parameter of a trial and every
        refresh of the taken set read them, and one unranking on a large DAG costs ~0.1 ms."""
        index = int(index)
        w = self._widths_memo.get(index)
        if w is None:
            if len(self._widths_memo) >= WIDTHS_MEMO:
                self._widths_memo.clear()
                self._index_memo.clear()
            w = tuple(int(v) for v in self.feasible.widths_of([index])[0])
            self._widths_memo[index], self._index_memo[w] = w, index
        return w

    def index_of(self, arch: Arch | tuple[int, ...]) -> int | None:
        """Global index of ``arch`` in X^f, None if it is not feasible (a candidate whose
        widths were just read, as a trial's are, is known without ranking it again)."""
        key = tuple(int(w) for w in (arch.widths if isinstance(arch, Arch) else arch))
        known = self._index_memo.get(key)
        if known is not None:
            return known
        try:
            return int(self.feasible.index_of(arch))
        except NotInSpaceError:
            return None

    def entropy_of_arch(self, widths: tuple[int, ...]) -> float:
        """Eq. 6 of any architecture of the space, also one outside X^f (TPE proposals);
        the per-depth tables are built once (a deep space's take ~1,000 layer descriptions)."""
        output = self.settings.get("output", "network")
        if not self.space.chained:
            return float(entropy(self.space, widths, output=output))
        depth = len(widths)
        cache = self.__dict__.setdefault("_entropy_tables", {})
        if depth not in cache:
            cache[depth] = entropy_tables(self.space, depth, output)
        return float(entropies(self.space, np.array([widths]), output=output,
                               tables=cache[depth])[0])

    def cluster_of_entropy(self, h: float) -> int:
        return int(self.clusters.predict(np.array([h]))[0])

    def entropies_at(self, indices: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(Eq. 6 entropies, clusters) of many candidates by global index (one decode per
        depth on a distribution-backed X^f instead of one per candidate)."""
        if self.distribution is None:
            pairs = [self.entropy_at(int(i)) for i in indices]
            return (np.array([h for h, _ in pairs], np.float64),
                    np.array([c for _, c in pairs], np.int64))
        keys = np.empty(len(indices), np.int64)
        for depth, sel, pos in self.feasible.positions_by_depth(np.asarray(indices, np.int64)):
            for s, row in zip(sel.tolist(), pos):
                keys[s] = self.distribution.locate(depth, row)[0]
        return np.asarray(self.entropy)[keys], np.asarray(self.clusters.labels_)[keys]

    def entropy_at(self, index: int) -> tuple[float, int]:
        """(Eq. 6 entropy, cluster) of the candidate with global index ``index``."""
        if self.distribution is not None:
            h, c = self.entropies_at([index])
            return float(h[0]), int(c[0])
        pos = self.position(index)
        if pos is None:
            raise NotInSpaceError(f"index {index} is not one of the {self.n_candidates:,} "
                                  "candidates")
        return float(self.entropy[pos]), int(self.clusters.labels_[pos])

    # ------------------------------------------------------------------ storage
    def to_bytes(self) -> bytes:
        from ..reduce.storage import feasible_to_bytes
        from ..reduce.tree import write_container

        c = self.clusters
        packed, width = (None, 0) if self.indices is None else _pack_indices(self.indices)
        header = {"kind": KIND, "settings": self.settings, "n_clusters_": int(c.n_clusters_),
                  "inertia": float(c.inertia_), "pool": self.indices is not None,
                  "distribution": self.distribution is not None,
                  "index_bytes": width, "fingerprint": self.feasible.meta.get("fingerprint")}
        arrays = [np.frombuffer(feasible_to_bytes(self.feasible), np.uint8).copy(),
                  np.asarray(self.entropy, np.float64), c.labels_, np.asarray(c.centers_,
                                                                              np.float64),
                  c.sizes_, np.asarray(c.edges_, np.float64)]
        if packed is not None:
            arrays.append(packed)
        return write_container(header, arrays)

    def save(self, path: str | os.PathLike) -> int:
        """Write atomically; returns the file size in bytes."""
        data = self.to_bytes()
        atomic_write(path, data)
        return len(data)

    @staticmethod
    def definition(path: str | os.PathLike) -> tuple[Any, Any, Any]:
        """(space, target, cost options) of a candidates or feasible-set file."""
        from ..reduce.storage import feasible_definition

        data, header, arrays = _read_file(path)
        if header.get("kind") == KIND:
            data = arrays[0].astype(np.uint8).tobytes()
        return feasible_definition(data, str(path))

    @classmethod
    def load(cls, path: str | os.PathLike, log: Callable[[str], None] | None = None,
             **build: Any) -> "Candidates":
        """Candidates from a candidates file, or built (``build`` settings) from a feasible-set
        file written by ``entronas reduce --out``."""
        from ..reduce.storage import feasible_from_bytes, load_feasible

        _, header, arrays = _read_file(path)
        if header.get("kind") != KIND:
            return cls.build(load_feasible(path), log=log, **build)
        try:
            feasible = feasible_from_bytes(arrays[0].astype(np.uint8).tobytes(), str(path))
            c = EntropyClusters(int(header["settings"]["n_clusters"]))
            c.labels_, c.centers_ = arrays[2].astype(np.int64), arrays[3]
            c.sizes_, c.edges_ = arrays[4].astype(np.int64), arrays[5]
            c.n_clusters_, c.inertia_ = int(header["n_clusters_"]), float(header["inertia"])
            indices = _unpack_indices(arrays[6], int(header.get("index_bytes", 0))) \
                if header.get("pool") else None
            settings = dict(header["settings"])
            dist = None
            if header.get("distribution"):  # derived data: rebuilt from the stored DAG
                dist = _distribution(feasible, settings["output"], log)
                if not np.array_equal(dist.h, arrays[1]):
                    raise ValueError("its entropy distribution differs from the stored one")
            return cls(feasible, arrays[1], c, indices, settings, dist)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise CorruptFileError(f"{path} is not a valid candidates file ({exc}); delete it "
                                   "to rebuild") from None


def _pack_indices(indices: np.ndarray) -> tuple[np.ndarray, int]:
    """Pool indices for the file: int64, or (X^f above 2^63 members, Python integers) each as
    ``width`` little-endian bytes, one flat uint8 array."""
    if indices.dtype != object:
        return np.asarray(indices, np.int64), 0
    width = max(1, (max(int(i) for i in indices).bit_length() + 7) // 8)
    data = b"".join(int(i).to_bytes(width, "little") for i in indices)
    return np.frombuffer(data, np.uint8).copy(), width


def _unpack_indices(array: np.ndarray, width: int) -> np.ndarray:
    if not width:
        return array
    rows = np.asarray(array, np.uint8).reshape(-1, width)
    return np.array([int.from_bytes(r.tobytes(), "little") for r in rows], dtype=object)


def _pool_entropies(feasible: Any, indices: np.ndarray, output: str) -> np.ndarray:
    """Eq. 6 of the pool members, computed on the grid positions their unranking gives."""
    h = np.empty(len(indices))
    for depth, sel, pos in feasible.positions_by_depth(indices):
        h[sel] = position_entropies(feasible.space, pos, output=output)
    return h


def _distribution(feasible: Any, output: str, log: Callable[[str], None] | None) -> Any:
    """The exact entropy distribution of ``feasible`` (a tree, or a counted set built as its
    DAG first); DistributionUnavailable says why not."""
    from ..proxy import distribution
    from ..reduce.dag import NO_DAG_REASON, counted_as_tree

    tree = feasible if hasattr(feasible, "dags") else None
    if log:
        how = "its DAG" if tree is not None else "its DAG (counted, not listed: built first)"
        log(f"X^f has {feasible.size:,} networks, too many to list: counting the exact "
            f"distribution of Eq. 6 over {how} ...")
    if tree is None:
        tree = counted_as_tree(feasible) if hasattr(feasible, "counters") else None
        if tree is None:
            raise DistributionUnavailable(NO_DAG_REASON)
    return distribution.EntropyDistribution(tree, output=output,
                                            max_entries=distribution.MAX_ENTRIES)


def describe(candidates: Candidates) -> str:
    """One line: how many candidates, exact or pooled, how many clusters."""
    if candidates.distribution is not None:
        return (f"{candidates.n_candidates:,} candidates (all of X^f, exact entropy "
                f"distribution of {candidates.distribution.n_values:,} distinct values), "
                f"{candidates.clusters.n_clusters_} entropy clusters")
    kind = "all of X^f" if candidates.exact else f"a uniform pool of {candidates.n_candidates:,}"
    return (f"{candidates.n_candidates:,} candidates ({kind}), "
            f"{candidates.clusters.n_clusters_} entropy clusters")


__all__ = ["Candidates", "CandidatePolicy", "POLICIES", "describe"]
