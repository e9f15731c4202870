"""Entropy proxy of Eq. (6): H = log2(u_L) * sum_i log2(omega_i).

omega_i per layer kind (footnote 8), taken from the layer descriptions:
* dense layer: omega = M_i;
* convolution: omega = M_i * K_w * K_h / g_i (a depthwise conv has M_i = g_i, so omega = K_w K_h);
* a fused layer (depthwise-separable block, ConvMixer block) multiplies the omegas of its
  convolutions, i.e. contributes the sum of their log2 omegas: log2(9) + log2(M_i) for a 3x3 DS
  block;
* pooling contributes nothing. Only the L searched layers enter the sum.

u_L is, by default (``output="network"``), the output size of the network's last layer: the
class count for a classifier (then a constant factor per space), the reconstruction size for the
autoencoder, M_L when the last searched layer is the output. ``output="last_searched"`` uses the
last searched layer's feature map R*C*M_L instead.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Iterable

import numpy as np

from .._core.arch import Arch
from .._core.validation import check_choice
from ..space.base import ChainSpace

OUTPUTS = ("network", "last_searched")


def _u_last(space: ChainSpace, depth: int, c_last: int, output: str) -> int:
    tail = space.tail(depth, c_last)
    if output == "network" and tail:
        return tail[-1].outputs
    prev = space.grid(depth, depth - 2)[0] if depth > 1 else None
    return space.layer(depth, depth - 1, prev, c_last).outputs


def entropy(space: ChainSpace, arch: Arch | Iterable[int], *, output: str = "network") -> float:
    """Eq. (6) for one architecture."""
    check_choice(output, "output", "entropy", OUTPUTS)
    if not space.chained:   # named dimensions: u_L of the layers the values build
        built = space.layers(arch)
        searched = [layer for layer in built if layer.searched]
        u_last = (built[-1] if output == "network" else searched[-1]).outputs
        return math.log2(u_last) * sum(layer.log2_width for layer in searched)
    layers = [layer for layer in space.layers(arch) if layer.searched]
    widths = tuple(arch.widths if isinstance(arch, Arch) else arch)
    u_last = _u_last(space, len(widths), widths[-1], output)
    return math.log2(u_last) * sum(layer.log2_width for layer in layers)


def entropy_tables(space: ChainSpace, depth: int,
                   output: str = "network") -> tuple[list[np.ndarray], np.ndarray]:
    """log2(omega) per layer for every (prev width, width) grid pair, and log2(u_L) per M_L."""
    grids = [space.grid(depth, i) for i in range(depth)]
    logw = []
    for i in range(depth):
        prev = [None] if i == 0 else grids[i - 1]
        logw.append(np.array([[space.layer(depth, i, a, b).log2_width for b in grids[i]]
                              for a in prev]))
    log_u = np.log2([_u_last(space, depth, c, output) for c in grids[-1]])
    return logw, log_u


def entropies(space: ChainSpace, widths: np.ndarray, *, output: str = "network",
              tables: tuple[list[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Eq. (6) vectorised over many architectures of ONE depth (rows of ``widths``;
    ``tables``: :func:`entropy_tables` of that depth, if at hand)."""
    widths = np.asarray(widths, dtype=np.int64)
    depth = widths.shape[1]
    pos = np.stack([np.searchsorted(np.asarray(space.grid(depth, i)), widths[:, i])
                    for i in range(depth)], axis=1) if depth else widths
    return position_entropies(space, pos, output=output, tables=tables)


def position_entropies(space: ChainSpace, pos: np.ndarray, *, output: str = "network",
                       tables: tuple[list[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Eq. (6) of many architectures of ONE depth given by grid positions (N x depth), as a
    feasible set's unranking yields them (``tables``: :func:`entropy_tables`, if at hand)."""
    check_choice(output, "output", "entropies", OUTPUTS)
    pos = np.asarray(pos, dtype=np.int64)
    if not space.chained:
        return _named_entropies(space, pos, output)
    depth = pos.shape[1]
    logw, log_u = tables if tables is not None else entropy_tables(space, depth, output)
    total = logw[0][0, pos[:, 0]].copy()
    for i in range(1, depth):
        total += logw[i][pos[:, i - 1], pos[:, i]]
    return log_u[pos[:, -1]] * total


def _named_entropies(space: ChainSpace, pos: np.ndarray, output: str) -> np.ndarray:
    """Eq. (6) of many architectures of a space of named dimensions (grid positions, one
    column per dimension): the slots' log2(omega) factors summed, times log2(u_L)."""
    total = np.zeros(len(pos))
    for scope, table in _named_tables(space):
        total += table[tuple(pos[:, d] for d in scope)] if scope else table
    if output == "network" and space.num_classes:
        return math.log2(space.num_classes) * total
    dims = space.backbone_impl.structure(space)[0]
    return np.array([entropy(space, [dims[d].grid[p] for d, p in enumerate(row)],
                             output=output) for row in pos.tolist()])


@lru_cache(maxsize=64)
def _named_tables(space: ChainSpace) -> tuple[tuple[tuple[int, ...], np.ndarray], ...]:
    """log2(omega) of every slot over its scope's grid positions (0 where it is left out)."""
    from ..space.dimensions import slot_layer

    dims, slots = space.backbone_impl.structure(space)
    index = {d.name: k for k, d in enumerate(dims)}
    out = []
    for j, slot in enumerate(slots):
        scope = tuple(index[n] for n in slot.refs())
        table = np.zeros(tuple(len(dims[d].grid) for d in scope))
        for p in np.ndindex(*table.shape):
            layer = slot_layer(space, j, tuple(dims[d].grid[q] for d, q in zip(scope, p)))
            table[p] = 0.0 if layer is None else layer.log2_width
        out.append((scope, table))
    return tuple(out)


def tree_entropies(tree, *, output: str = "network") -> np.ndarray:
    """Entropy of every member of a FeasibleTree, in global index order."""
    parts = [entropies(tree.space, tree.depth_array(d), output=output) for d in tree.depths]
    return np.concatenate(parts) if parts else np.zeros(0)
