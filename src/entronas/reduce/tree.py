"""The feasible set X^f as generic trees (Sec. III-E), compressed into DAGs of range nodes.

For each depth L there is one tree with L levels; a node at level i holds a contiguous range of
grid positions for M_{i+1} (feasible widths after a prefix always form a range because costs
are monotone) and one child per value. Identical subtrees are stored once, which turns the
paper's tree into a DAG: DS-CNN's 167,713 networks take a few kB instead of 1.2 MB.

Nodes carry subtree counts, so ``tree[i]`` (unrank), ``tree.index_of(arch)`` (rank), uniform
sampling and ordered iteration are all O(L) per architecture and vectorised over batches.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from .._core.arch import Arch
from .._core.errors import CorruptFileError
from .._core.fileio import atomic_write
from .feasible import FeasibleSet

MAGIC = b"ENTRTREE"
#: members of one depth that :meth:`FeasibleTree.depth_array` lists at once (about 3 GB of
#: int64 widths at depth 8); a tree built from counts can hold 10^13 and more
MAX_LIST_ROWS = 50_000_000
VERSION = 2            # 2: slots stored as positions (1: contiguous ranges lo/cnt)
READABLE = (1, 2)


@dataclass
class DepthDag:
    """DAG of X^f_L. A level-j node lists the grid positions allowed for layer j (its slots,
    ascending) and, for every slot, the child node at level j+1.

    Under the paper's monotone costs a node's slots are one contiguous range; under the
    deployed ``tflm`` convention the exact planner check can punch holes in it, so slots are
    stored as positions. Identical subtrees are stored once.
    """

    depth: int
    cnt: list[np.ndarray]    # slots per node, per level
    pos: list[np.ndarray]    # grid position of every slot (node-major), per level
    child: list[np.ndarray]  # len depth-1: child node (level j+1) of every slot of level j
    counts: list[np.ndarray] = field(init=False)
    _ptr: list[np.ndarray] = field(init=False, repr=False)
    _base: list[np.ndarray] = field(init=False, repr=False)
    _cum: list[np.ndarray] = field(init=False, repr=False)
    _key: list[np.ndarray] = field(init=False, repr=False)
    _width: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        L = self.depth
        self.counts = [None] * L  # type: ignore[list-item]
        self._ptr = [np.concatenate([[0], np.cumsum(c)]).astype(np.int64) for c in self.cnt]
        self.counts[L - 1] = self.cnt[L - 1].astype(np.int64)
        self._cum = [None] * (L - 1)  # type: ignore[list-item]
        for j in range(L - 2, -1, -1):
            slot_counts = self.counts[j + 1][self.child[j]]
            cum = np.cumsum(slot_counts)
            self._cum[j] = cum
            ends = cum[self._ptr[j][1:] - 1]
            self.counts[j] = np.diff(np.concatenate([[0], ends]))
        self._base = [np.concatenate([[0], np.cumsum(c)[:-1]]).astype(np.int64)
                      for c in self.counts]
        self._width = [int(p.max()) + 1 if len(p) else 1 for p in self.pos]
        self._key = [np.repeat(np.arange(len(c), dtype=np.int64), c) * w + p
                     for c, p, w in zip(self.cnt, self.pos, self._width)]

    @property
    def size(self) -> int:
        return int(self.counts[0][0])

    @property
    def n_nodes(self) -> int:
        return sum(len(c) for c in self.cnt)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_leaf_masks(cls, masks: Sequence[np.ndarray], _unused: Any, depth: int) -> "DepthDag":
        row = np.asarray(masks[0])[0]
        return cls(depth, [np.array([row.sum()], np.int64)], [np.nonzero(row)[0]], [])

    @classmethod
    def from_prefix_levels(cls, levels: Sequence[Any], last_mask: np.ndarray,
                           depth: int) -> "DepthDag | None":
        """Build bottom-up from enumerated prefixes; ``levels[j]`` holds prefixes of length j+1
        and ``last_mask`` the allowed last widths of every prefix of length ``depth - 1``.

        Prefixes left without any allowed completion (the exact ``tflm`` check can remove all
        of them) are dropped; None when nothing is left.
        """
        edges = [(lv.parent, lv.last, np.arange(len(lv.last))) for lv in levels]
        return cls.from_edges(edges, last_mask, depth)

    @classmethod
    def from_edges(cls, edges: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
                   last_mask: np.ndarray, depth: int) -> "DepthDag | None":
        """Build bottom-up from classes of prefixes (a tree of prefixes is the special case of
        one class per prefix).

        ``edges[j] = (parent, pos, child)`` for j < depth - 1, one row per edge, sorted by
        (parent, pos): class ``parent`` of prefixes of length j (always 0 for j = 0: the empty
        prefix) extended by grid position ``pos`` of layer j gives class ``child`` of length
        j+1. ``last_mask[c]`` holds the allowed last widths after class c of length depth-1.
        Identical subtrees become one node; classes left without a completion are dropped.
        """
        L = depth
        n_cls = [int(e[2].max(initial=-1)) + 1 for e in edges]   # classes of length j+1
        alive: list[np.ndarray] = [None] * (L - 1)  # type: ignore[list-item]
        alive[L - 2] = last_mask.any(axis=1)
        for j in range(L - 2, 0, -1):
            par, _, ch = edges[j]
            alive[j - 1] = np.bincount(par[alive[j][ch]], minlength=n_cls[j - 1]) > 0
        if not alive[0].any():
            return None
        uniq, inv = _unique_rows(last_mask[alive[L - 2]].astype(np.int64))
        cnt = [uniq.sum(axis=1).astype(np.int64)]
        pos = [np.nonzero(uniq)[1].astype(np.int64)]
        child: list[np.ndarray] = []
        node_of = np.full(len(last_mask), -1, np.int64)
        node_of[alive[L - 2]] = inv.ravel()
        for j in range(L - 2, -1, -1):
            par, last, ch = edges[j]
            keep = alive[j][ch]
            parent = par[keep] if j > 0 else np.zeros(int(keep.sum()), np.int64)
            last, ch = last[keep], ch[keep]
            n_par = n_cls[j - 1] if j > 0 else 1
            starts = np.searchsorted(parent, np.arange(n_par))
            counts = np.diff(np.concatenate([starts, [len(parent)]]))
            k = np.arange(len(parent)) - starts[parent]
            base = int(node_of.max()) + 2          # slot code = pos * base + child + 1
            mat = np.zeros((n_par, int(counts.max())), dtype=np.int64)
            mat[parent, k] = last * base + node_of[ch] + 1
            has = counts > 0
            uniq, inv = _unique_rows(mat[has])
            used = uniq > 0
            cnt.insert(0, used.sum(axis=1).astype(np.int64))
            pos.insert(0, (uniq[used] - 1) // base)
            child.insert(0, (uniq[used] - 1) % base)
            node_of = np.full(n_par, -1, np.int64)
            node_of[has] = inv.ravel()
        return cls(depth, cnt, pos, child)

    # ------------------------------------------------------------------ rank / unrank
    def unrank(self, idx: np.ndarray) -> np.ndarray:
        """Grid positions (N x depth) of the architectures with in-depth indices ``idx``."""
        idx = np.asarray(idx, dtype=np.int64)
        out = np.empty((len(idx), self.depth), dtype=np.int64)
        node = np.zeros(len(idx), dtype=np.int64)
        r = idx.copy()
        for j in range(self.depth - 1):
            g = self._base[j][node] + r
            slot = np.searchsorted(self._cum[j], g, side="right")
            out[:, j] = self.pos[j][slot]
            prev = np.where(slot > 0, self._cum[j][slot - 1], 0)
            r = g - prev
            node = self.child[j][slot]
        out[:, -1] = self.pos[-1][self._ptr[-1][node] + r]
        return out

    def rank(self, pos: np.ndarray) -> np.ndarray:
        """In-depth indices of grid-position rows; -1 where a row is not in X^f_L."""
        pos = np.asarray(pos, dtype=np.int64)
        n = len(pos)
        node = np.zeros(n, dtype=np.int64)
        r = np.zeros(n, dtype=np.int64)
        ok = np.ones(n, dtype=bool)
        for j in range(self.depth):
            w = self._width[j]
            ok &= (pos[:, j] >= 0) & (pos[:, j] < w)
            want = node * w + np.clip(pos[:, j], 0, w - 1)
            slot = np.searchsorted(self._key[j], want)
            slot_c = np.minimum(slot, len(self._key[j]) - 1)
            ok &= (slot < len(self._key[j])) & (self._key[j][slot_c] == want)
            slot = np.where(ok, slot_c, self._ptr[j][node])
            if j == self.depth - 1:
                r += slot - self._ptr[j][node]
                break
            prev = np.where(slot > 0, self._cum[j][slot - 1], 0)
            r += prev - self._base[j][node]
            node = self.child[j][slot]
        return np.where(ok, r, -1)

    def max_positions(self) -> list[int]:
        """Largest grid position used at every level (M^red of Eq. 2, as positions)."""
        return [int(p.max()) for p in self.pos]


def _unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct rows, index of each row's distinct row): rows compared as raw bytes, which
    is much faster than ``np.unique(axis=0)``'s column-wise sort for wide rows."""
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    return rows[first], inv.ravel()


class FeasibleTree(FeasibleSet):
    """X^f as one range-node DAG per depth: indexable, iterable, storable.

    Inside a depth, members are in lexicographic order of their widths.
    """

    def __init__(self, space: Any, dags: dict[int, DepthDag], meta: dict[str, Any] | None = None):
        self.dags = dict(sorted(dags.items()))
        super().__init__(space, {d: dag.size for d, dag in self.dags.items()}, meta)

    def _unrank(self, depth: int, local: np.ndarray) -> np.ndarray:
        return self.dags[depth].unrank(local)

    def _rank(self, depth: int, pos: np.ndarray) -> int | None:
        r = int(self.dags[depth].rank(pos[None, :])[0])
        return r if r >= 0 else None

    def depth_array(self, depth: int, local: np.ndarray | None = None) -> np.ndarray:
        """Widths (N x depth) of X^f_L members (all of them, in order, if ``local`` is None)."""
        dag = self.dags[depth]
        if local is None and dag.size > MAX_LIST_ROWS:  # before allocating anything
            raise MemoryError(f"X^f_{depth} has {dag.size:,} members, too many to list at once "
                              f"(> {MAX_LIST_ROWS:,}); pass the indices you need, iterate, or "
                              "sample")
        local = np.arange(dag.size) if local is None else np.asarray(local, dtype=np.int64)
        return self.positions_to_widths(depth, dag.unrank(local))

    def __iter__(self) -> Iterator[Arch]:
        for depth in self.dags:
            for start in range(0, self.dags[depth].size, 65536):
                stop = min(start + 65536, self.dags[depth].size)
                for row in self.depth_array(depth, np.arange(start, stop)):
                    yield Arch(self.space.name, tuple(int(v) for v in row))

    def all_widths(self) -> dict[int, np.ndarray]:
        """Every member, as one widths array per depth."""
        return {d: self.depth_array(d) for d in self.dags}

    # ------------------------------------------------------------------ storage
    @property
    def n_nodes(self) -> int:
        return sum(d.n_nodes for d in self.dags.values())

    def to_bytes(self) -> bytes:
        header = dict(self.meta)
        header["kind"] = "tree"
        header["space"] = self.space.to_dict()
        header["depths"] = list(self.dags)
        arrays: list[np.ndarray] = []
        for dag in self.dags.values():
            arrays.extend(dag.cnt)
            arrays.extend(dag.pos)
            arrays.extend(dag.child)
        return write_container(header, arrays)

    def save(self, path: str | os.PathLike) -> int:
        """Write atomically (temp file + rename); returns the file size in bytes."""
        data = self.to_bytes()
        atomic_write(path, data)
        return len(data)

    @property
    def nbytes(self) -> int:
        return len(self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "<bytes>") -> "FeasibleTree":
        from ..space.base import ChainSpace

        header, arrays = read_container(data, source)
        version = header.pop("_version", VERSION)
        bad = f"{source} is not a valid entronas tree file"
        if header.get("kind", "tree") != "tree":
            raise CorruptFileError(f"{source} holds a {header.get('kind')!r} feasible set, not a "
                                   "tree; open it with entronas.reduce.load_feasible")
        try:
            space = ChainSpace.from_dict(header.pop("space"))
            dags, k = {}, 0
            for depth in header.pop("depths"):
                a, b = arrays[k:k + depth], arrays[k + depth:k + 2 * depth]
                child = arrays[k + 2 * depth:k + 3 * depth - 1]
                k += 3 * depth - 1
                if version == 1:  # (lo, cnt) ranges -> positions
                    a, b = b, [np.concatenate([np.arange(lo_, lo_ + c_) for lo_, c_ in
                                               zip(lo, cnt)]).astype(np.int64)
                               if len(lo) else np.zeros(0, np.int64) for lo, cnt in zip(a, b)]
                dags[int(depth)] = DepthDag(int(depth), a, b, child)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise CorruptFileError(f"{bad} ({exc}); re-run `entronas reduce`") from exc
        header.pop("kind", None)
        return cls(space, dags, header)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FeasibleTree":
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            raise CorruptFileError(f"tree file {str(path)!r} does not exist; create it with "
                                   "`entronas reduce SPACE --target T --out FILE`") from None
        return cls.from_bytes(data, str(path))


def write_container(header: dict[str, Any], arrays: Sequence[np.ndarray]) -> bytes:
    """MAGIC | version | length | zlib(header JSON + packed arrays) | sha256 of the payload.

    The one binary format of entronas (feasible sets, candidates): integer arrays are packed
    into the smallest unsigned type that holds them, float arrays as float64.
    """
    index, buf = [], io.BytesIO()
    for a in arrays:
        dtype = _small_dtype(a)
        index.append([dtype, len(a)])
        buf.write(a.astype(dtype).tobytes())
    header = dict(header, arrays=index)
    head = json.dumps(header, sort_keys=True).encode()
    payload = zlib.compress(struct.pack("<I", len(head)) + head + buf.getvalue(), 9)
    digest = hashlib.sha256(payload).digest()
    return MAGIC + struct.pack("<HQ", VERSION, len(payload)) + payload + digest


def read_container(data: bytes, source: str) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Check magic, version and checksum; return the header and the int64 arrays."""
    bad = f"{source} is not a valid entronas tree file"
    if len(data) < len(MAGIC) + 10 + 32 or data[:len(MAGIC)] != MAGIC:
        raise CorruptFileError(f"{bad} (wrong magic header); create one with `entronas "
                               "reduce SPACE --target T --out FILE`")
    version, n = struct.unpack("<HQ", data[len(MAGIC):len(MAGIC) + 10])
    if version not in READABLE:
        raise CorruptFileError(f"{source} has tree format version {version}; this entronas "
                               f"reads version {VERSION}: re-run `entronas reduce`")
    start = len(MAGIC) + 10
    payload, digest = data[start:start + n], data[start + n:start + n + 32]
    if len(payload) != n or hashlib.sha256(payload).digest() != digest:
        raise CorruptFileError(f"{bad} (checksum mismatch: truncated or corrupted); "
                               "re-run `entronas reduce`")
    try:
        inflate = zlib.decompressobj()
        (hlen,) = struct.unpack("<I", _inflate(inflate, payload, 4))
        if hlen > _MAX_RATIO * n:
            raise ValueError(f"header length {hlen:,} B cannot come from {n:,} B")
        header = json.loads(_inflate(inflate, b"", hlen))
        header["_version"] = version
        index = header.pop("arrays")
        sizes = [np.dtype(dtype).itemsize * int(length) for dtype, length in index]
        if sum(sizes) > _MAX_RATIO * n:  # deflate cannot expand more than this
            raise ValueError(f"its header declares {sum(sizes):,} B of arrays in a "
                             f"{n:,} B payload")
        raw = _inflate(inflate, b"", sum(sizes))
        if inflate.decompress(inflate.unconsumed_tail, 1) or not inflate.eof:
            raise ValueError("the payload holds more than its header declares")
        pos, arrays = 0, []
        for (dtype, _), size in zip(index, sizes):
            a = np.frombuffer(raw[pos:pos + size], dtype=dtype)
            arrays.append(a.astype(np.float64) if a.dtype.kind == "f" else a.astype(np.int64))
            pos += size
    except (ValueError, KeyError, TypeError, struct.error, zlib.error) as exc:
        raise CorruptFileError(f"{bad} ({exc}); re-run `entronas reduce`") from exc
    return header, arrays


#: deflate's largest expansion (1032:1), rounded up: a payload cannot inflate to more than this
_MAX_RATIO = 1100


def _inflate(inflate: Any, data: bytes, size: int) -> bytes:
    """Exactly ``size`` more bytes of the stream (never more: a zlib bomb stops here)."""
    out = inflate.decompress(data or inflate.unconsumed_tail, size) if size else b""
    while len(out) < size and inflate.unconsumed_tail:
        out += inflate.decompress(inflate.unconsumed_tail, size - len(out))
    if len(out) < size:
        raise ValueError(f"the payload ends {size - len(out):,} B short")
    return out


def _small_dtype(a: np.ndarray) -> str:
    if np.asarray(a).dtype.kind == "f":
        return "<f8"
    hi = int(a.max()) if len(a) else 0
    lo = int(a.min()) if len(a) else 0
    for dt in ("<u1", "<u2", "<u4"):
        if lo >= 0 and hi <= np.iinfo(dt).max:
            return dt
    return "<i8"
