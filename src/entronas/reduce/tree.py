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
VERSION = 1


@dataclass
class DepthDag:
    """Range-node DAG of X^f_L. Level j nodes choose the grid position of layer j."""

    depth: int
    lo: list[np.ndarray]
    cnt: list[np.ndarray]
    child: list[np.ndarray]  # len depth-1: flat child ids (level j+1) for every slot of level j
    counts: list[np.ndarray] = field(init=False)
    _ptr: list[np.ndarray] = field(init=False, repr=False)
    _base: list[np.ndarray] = field(init=False, repr=False)
    _cum: list[np.ndarray] = field(init=False, repr=False)

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

    @property
    def size(self) -> int:
        return int(self.counts[0][0])

    @property
    def n_nodes(self) -> int:
        return sum(len(lo) for lo in self.lo)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_leaf_masks(cls, masks: Sequence[np.ndarray], _unused: Any, depth: int) -> "DepthDag":
        lo, cnt = _ranges(masks[0])
        return cls(depth, [lo], [cnt], [])

    @classmethod
    def from_prefix_levels(cls, levels: Sequence[Any], last_mask: np.ndarray,
                           depth: int) -> "DepthDag":
        """Build bottom-up from enumerated prefixes; ``levels[j]`` holds prefixes of length j+1."""
        lo_l, cnt_l = _ranges(last_mask)
        rows = np.stack([lo_l, cnt_l], axis=1)
        uniq, node_of_prefix = np.unique(rows, axis=0, return_inverse=True)
        node_of_prefix = node_of_prefix.ravel()
        lo = [uniq[:, 0]]
        cnt = [uniq[:, 1]]
        child: list[np.ndarray] = []
        for j in range(len(levels) - 1, -1, -1):
            pre = levels[j]
            n_parents = 1 if j == 0 else len(levels[j - 1].last)
            parent = pre.parent if j > 0 else np.zeros(len(pre.last), np.int64)
            starts = np.searchsorted(parent, np.arange(n_parents))
            counts = np.diff(np.concatenate([starts, [len(parent)]]))
            if (counts == 0).any():
                raise AssertionError("a kept prefix has no feasible child")
            pos = np.arange(len(parent)) - starts[parent]
            if (pre.last != pre.last[starts[parent]] + pos).any():
                raise AssertionError("feasible widths after a prefix are not contiguous")
            width = int(counts.max())
            mat = np.full((n_parents, 2 + width), -1, dtype=np.int64)
            mat[:, 0] = pre.last[starts]
            mat[:, 1] = counts
            mat[parent, 2 + pos] = node_of_prefix
            uniq, inv = np.unique(mat, axis=0, return_inverse=True)
            lo.insert(0, uniq[:, 0])
            cnt.insert(0, uniq[:, 1])
            slots = uniq[:, 2:]
            child.insert(0, slots[slots >= 0])
            node_of_prefix = inv.ravel()
        return cls(depth, lo, cnt, child)

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
            out[:, j] = self.lo[j][node] + (slot - self._ptr[j][node])
            prev = np.where(slot > 0, self._cum[j][slot - 1], 0)
            r = g - prev
            node = self.child[j][slot]
        out[:, -1] = self.lo[-1][node] + r
        return out

    def rank(self, pos: np.ndarray) -> np.ndarray:
        """In-depth indices of grid-position rows; -1 where a row is not in X^f_L."""
        pos = np.asarray(pos, dtype=np.int64)
        n = len(pos)
        node = np.zeros(n, dtype=np.int64)
        r = np.zeros(n, dtype=np.int64)
        ok = np.ones(n, dtype=bool)
        for j in range(self.depth):
            off = pos[:, j] - self.lo[j][node]
            ok &= (off >= 0) & (off < self.cnt[j][node])
            off = np.where(ok, off, 0)
            if j == self.depth - 1:
                r += off
                break
            slot = self._ptr[j][node] + off
            prev = np.where(slot > 0, self._cum[j][slot - 1], 0)
            r += prev - self._base[j][node]
            node = self.child[j][slot]
        return np.where(ok, r, -1)


def _ranges(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lo, count) of each row's True run; rows must be one contiguous run."""
    lo = mask.argmax(axis=1)
    cnt = mask.sum(axis=1)
    hi = mask.shape[1] - 1 - mask[:, ::-1].argmax(axis=1)
    if (cnt == 0).any() or (hi - lo + 1 != cnt).any():
        raise AssertionError("feasible last-layer widths are not one contiguous range")
    return lo.astype(np.int64), cnt.astype(np.int64)


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
            arrays.extend(dag.lo)
            arrays.extend(dag.cnt)
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
        bad = f"{source} is not a valid entronas tree file"
        if header.get("kind", "tree") != "tree":
            raise CorruptFileError(f"{source} holds a {header.get('kind')!r} feasible set, not a "
                                   "tree; open it with entronas.reduce.load_feasible")
        try:
            space = ChainSpace.from_dict(header.pop("space"))
            dags, k = {}, 0
            for depth in header.pop("depths"):
                lo, cnt = arrays[k:k + depth], arrays[k + depth:k + 2 * depth]
                child = arrays[k + 2 * depth:k + 3 * depth - 1]
                k += 3 * depth - 1
                dags[int(depth)] = DepthDag(int(depth), lo, cnt, child)
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
    """MAGIC | version | length | zlib(header JSON + packed arrays) | sha256 of the payload."""
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
    if version != VERSION:
        raise CorruptFileError(f"{source} has tree format version {version}; this entronas "
                               f"reads version {VERSION}: re-run `entronas reduce`")
    start = len(MAGIC) + 10
    payload, digest = data[start:start + n], data[start + n:start + n + 32]
    if len(payload) != n or hashlib.sha256(payload).digest() != digest:
        raise CorruptFileError(f"{bad} (checksum mismatch: truncated or corrupted); "
                               "re-run `entronas reduce`")
    try:
        raw = zlib.decompress(payload)
        (hlen,) = struct.unpack("<I", raw[:4])
        header = json.loads(raw[4:4 + hlen])
        pos, arrays = 4 + hlen, []
        for dtype, length in header.pop("arrays"):
            size = np.dtype(dtype).itemsize * length
            arrays.append(np.frombuffer(raw[pos:pos + size], dtype=dtype).astype(np.int64))
            pos += size
    except (ValueError, KeyError, TypeError, struct.error, zlib.error) as exc:
        raise CorruptFileError(f"{bad} ({exc}); re-run `entronas reduce`") from exc
    return header, arrays


def _small_dtype(a: np.ndarray) -> str:
    hi = int(a.max()) if len(a) else 0
    lo = int(a.min()) if len(a) else 0
    for dt in ("<u1", "<u2", "<u4"):
        if lo >= 0 and hi <= np.iinfo(dt).max:
            return dt
    return "<i8"
