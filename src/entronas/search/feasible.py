"""The reduced space X^f and its entropy clusters, computed once per run and cached on disk.

The cache lives in ``<run_dir>/cache/<fingerprint>/`` (``feasible.tree`` + ``clusters.npz``),
keyed by :func:`entronas.reduce.fingerprint` of space + target + cost options plus the clustering
settings, so every worker of a run loads the same X^f instead of recomputing it. Files are
written atomically; two workers racing to create the cache write identical bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._core.fileio import atomic_write
from .._core.arch import Arch
from .._core.errors import CorruptFileError, NotInSpaceError
from ..cost.model import estimate
from ..cost.options import CostOptions
from ..proxy.clusters import EntropyClusters
from ..proxy.entropy import entropies
from ..reduce import fingerprint, load_feasible, reduce_space, save_feasible
from ..sampling.build import CandidateSampler, build_sampler
from ..sampling.entropy import EntropySampler as _PureEntropy
from ..sampling.uniform import UniformSampler as _PureUniform

CACHE_VERSION = 1


@dataclass
class PreparedSpace:
    """Everything a sampler and the objective need about X^f.

    Attributes:
        space, target, options: what was reduced.
        feasible: the feasible set (``FeasibleTree`` or a ``CountedSpace``-like object with
            ``len``, ``widths_of``, ``index_of`` and ``sample``).
        clusters: fitted :class:`EntropyClusters` over the candidates (all of X^f, or a pool).
        entropy: entropy of every candidate, aligned with ``clusters.labels_``.
        indices: global indices of the pool (None: candidates are all of X^f, in index order).
        fingerprint: reduction fingerprint (space + target + options).
        key: ``fingerprint`` extended with the clustering settings (cache key, study attr).
    """

    space: Any
    target: Any
    options: CostOptions
    feasible: Any
    clusters: EntropyClusters
    entropy: np.ndarray
    indices: np.ndarray | None
    fingerprint: str
    key: str
    n_clusters: int = 100
    p: float = 0.5
    output: str = "network"
    _samplers: dict[str, CandidateSampler] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.feasible)

    def candidate_sampler(self, strategy: str) -> CandidateSampler:
        """A pure sampler ("entropy" or "uniform") over the cached candidates."""
        if strategy not in self._samplers:
            if strategy == "entropy":
                inner = _PureEntropy(self.clusters.labels_, p=self.p)
                cs = CandidateSampler("entropy", inner, self.indices, clusters=self.clusters,
                                      entropy=self.entropy, exact=self.indices is None)
            else:
                inner = _PureUniform(len(self.entropy))
                cs = CandidateSampler("uniform", inner, self.indices, clusters=self.clusters,
                                      entropy=self.entropy, exact=self.indices is None)
            self._samplers[strategy] = cs
        return self._samplers[strategy]

    @property
    def n_candidates(self) -> int:
        return len(self.entropy)

    def index_of(self, arch: Arch) -> int | None:
        """Global index of ``arch`` in X^f, None if it is not feasible."""
        try:
            return int(self.feasible.index_of(arch))
        except NotInSpaceError:
            return None

    def widths(self, index: int) -> tuple[int, ...]:
        return tuple(int(w) for w in self.feasible.widths_of([int(index)])[0])

    def describe(self, arch: Arch) -> dict[str, Any]:
        """Resources, entropy and cluster of ``arch`` (also for archs outside X^f)."""
        costs = estimate(self.space, arch, self.options)
        h = float(entropies(self.space, np.array([arch.widths]), output=self.output)[0])
        cluster = int(self.clusters.predict(np.array([h]))[0])
        return {"rom": int(costs.rom), "ram": int(costs.ram), "flops": int(costs.flops),
                "weights": int(costs.weights), "entropy": h, "cluster": cluster,
                "fits": bool(self.target.fits(costs.rom, costs.ram, costs.flops))}


def run_key(fp: str, n_clusters: int, p: float, output: str) -> str:
    blob = json.dumps([fp, n_clusters, float(p), output, CACHE_VERSION])
    return fp + "-" + hashlib.sha256(blob.encode()).hexdigest()[:8]


def prepare(space: Any, target: Any, options: CostOptions | None = None, *,
            n_clusters: int = 100, p: float = 0.5, output: str = "network",
            cache_dir: str | os.PathLike | None = None, seed: int = 0,
            log: Any = None) -> PreparedSpace:
    """Reduce ``space`` for ``target`` and cluster X^f by entropy, loading the cache if present."""
    options = options or CostOptions()
    fp = fingerprint(space, target, options)
    key = run_key(fp, n_clusters, p, output)
    folder = Path(cache_dir) / key if cache_dir is not None else None
    if folder is not None and (folder / "clusters.npz").exists():
        try:
            return _load(folder, space, target, options, fp, key, n_clusters, p, output)
        except (CorruptFileError, OSError, KeyError, ValueError) as exc:
            if log:
                log(f"cache {folder} unusable ({exc}); recomputing")
    feasible, report = reduce_space(space, target, options)
    if log:
        log(f"reduced {space.name}: {report.feasible:,} of {report.size:,} networks fit "
            f"{target.describe()} ({report.seconds:.1f} s)")
    cs = build_sampler("entropy", feasible, n_clusters=n_clusters, p=p, output=output, seed=seed)
    prepared = PreparedSpace(space, target, options, feasible, cs.clusters, cs.entropy,
                             cs.indices, fp, key, n_clusters, p, output)
    if folder is not None:
        _save(folder, prepared)
    return prepared


def _save(folder: Path, ps: PreparedSpace) -> None:
    save_feasible(ps.feasible, folder / "feasible.tree")  # a counted set stores its definition
    c = ps.clusters
    arrays = {"labels": c.labels_, "centers": c.centers_, "sizes": c.sizes_, "edges": c.edges_,
              "entropy": ps.entropy, "meta": np.array(json.dumps({
                  "fingerprint": ps.fingerprint, "key": ps.key, "n_clusters": ps.n_clusters,
                  "n_clusters_": int(c.n_clusters_), "inertia": float(c.inertia_), "p": ps.p,
                  "output": ps.output, "space": ps.space.name}))}
    if ps.indices is not None:
        arrays["indices"] = np.asarray(ps.indices)
    # the tree first, then clusters.npz: its presence marks a complete cache
    atomic_write(folder / "clusters.npz", lambda fh: np.savez(fh, **arrays), binary=True)


def _load(folder: Path, space: Any, target: Any, options: CostOptions, fp: str, key: str,
          n_clusters: int, p: float, output: str) -> PreparedSpace:
    with np.load(folder / "clusters.npz", allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        if meta["key"] != key:
            raise CorruptFileError(f"{folder}: cache key {meta['key']} != {key}")
        c = EntropyClusters(n_clusters)
        c.labels_, c.centers_ = z["labels"].astype(np.int64), z["centers"]
        c.sizes_, c.edges_ = z["sizes"], z["edges"]
        c.n_clusters_, c.inertia_ = int(meta["n_clusters_"]), float(meta["inertia"])
        entropy = z["entropy"]
        indices = z["indices"] if "indices" in z.files else None
    feasible = load_feasible(folder / "feasible.tree")
    if feasible.meta.get("fingerprint") != fp:
        raise CorruptFileError(f"{folder}/feasible.tree has another fingerprint")
    return PreparedSpace(space, target, options, feasible, c, entropy, indices, fp, key,
                         n_clusters, p, output)
