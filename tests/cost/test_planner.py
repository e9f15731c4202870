"""TFLM's greedy planner replayed, and the two monotone bounds the reduction relies on."""

from __future__ import annotations

import numpy as np
import pytest

from entronas.cost import costs, estimate
from entronas.cost.planner import greedy_plan, greedy_plan_batch, live_peak, neighbourhood_bound
from entronas.cost.ram import op_tensors
from entronas.space import get_space, list_spaces


def _random_tensors(rng: np.random.Generator, kind: str) -> list[tuple[int, int, int]]:
    n = int(rng.integers(2, 14))
    sizes = rng.choice([1, 2, 3, 4, 5, 6, 8, 10, 12, 16], size=n) * 16
    if kind == "chain":      # each tensor overlaps its neighbours only (MLP, DS-CNN, MobileNet)
        return [(int(s), max(k - 1, 0), k) for k, s in enumerate(sizes)]
    if kind == "residual":   # x -> dw -> add(x) -> pw, as ConvMixer lowers
        out, step, cur = [[int(sizes[0]), 0, 0]], 0, 0
        for c in sizes[1:]:
            cp = out[cur][0]
            out[cur][2] = step
            out.append([cp, step, step])
            y, step = len(out) - 1, step + 1
            out[cur][2] = out[y][2] = step
            out.append([cp, step, step])
            r, step = len(out) - 1, step + 1
            out[r][2] = step
            out.append([int(c), step, step])
            cur, step = len(out) - 1, step + 1
        return [tuple(t) for t in out]  # type: ignore[misc]
    starts = rng.integers(0, 8, size=n)
    return [(int(s), int(a), int(a + rng.integers(0, 4))) for s, a in zip(sizes, starts)]


@pytest.mark.parametrize("kind", ["chain", "residual", "intervals"])
def test_live_peak_and_neighbourhood_bracket_the_plan(kind: str) -> None:
    """lower <= greedy plan <= upper on 3,000 seeded random tensor sets (ties included)."""
    rng = np.random.default_rng({"chain": 0, "residual": 1, "intervals": 2}[kind])
    worst = 1.0
    for _ in range(3000):
        t = _random_tensors(rng, kind)
        plan = greedy_plan(t)
        assert live_peak(t) <= plan <= neighbourhood_bound(t), t
        worst = max(worst, plan / live_peak(t))
    assert worst > 1.0  # fragmentation does happen: the live peak alone would not be safe


def test_batch_replay_equals_the_scalar_replay() -> None:
    rng = np.random.default_rng(3)
    for kind in ("chain", "intervals", "residual"):
        for _ in range(40):
            t = _random_tensors(rng, kind)
            life = [(a, b) for _, a, b in t]
            sizes = rng.choice([16, 32, 48, 64, 96], size=(30, len(t)))
            want = [greedy_plan([(int(s), a, b) for s, (a, b) in zip(row, life)])
                    for row in sizes]
            assert greedy_plan_batch(sizes, life).tolist() == want


def test_equal_sizes_are_placed_in_reverse_tensor_order() -> None:
    """The measured case of the old replay's miss: TFLM plans 364,000 B, not 252,000 B."""
    space = get_space("dscnn-kws")
    ops = [op for layer in space.layers((84, 84, 84, 252, 224, 280)) for op in layer.ops]
    tensors = op_tensors(ops, costs("paper", "float32", ram_model="ops"))
    assert greedy_plan(tensors) == 364_000
    assert live_peak(tensors) == 252_000
    in_order = sorted(range(len(tensors)), key=lambda i: -tensors[i][0])  # ties in order
    assert in_order != sorted(range(len(tensors)), key=lambda i: (-tensors[i][0], -i))


@pytest.mark.parametrize("name", list_spaces())
def test_bounds_hold_on_every_registered_space(name: str) -> None:
    """Seeded members of every space (GELU swapped out where TFLM needs it): the reduction's
    per-layer window bound is >= the replayed plan, the live peak <= it."""
    from entronas.reduce.tables import build_tables

    space = get_space(name)
    if not space.chained:   # named dimensions: the reduction's per-slot bound is a live peak
        return _check_dimension_bounds(space)
    if space.option("activation") == "gelu" or name.startswith("convmixer"):
        space = space.with_options(options={"activation": "relu"},
                                   depth_max=min(space.depth_max, space.depth_min + 1))
    rng = np.random.default_rng(7)
    opts = costs("tflm", "float32")
    for depth in list(space.depths)[:2]:
        t = build_tables(space, depth, opts)
        for _ in range(15):
            pos = [int(rng.integers(len(g))) for g in t.widths]
            widths = [int(g[p]) for g, p in zip(t.widths, pos)]
            try:
                space.check_arch(widths)
            except Exception:
                continue
            ops = [op for layer in space.layers(widths) for op in layer.ops]
            tensors = op_tensors(ops, opts)
            window = max([int(t.window[0][0, pos[0]])]
                         + [int(t.window[i][pos[i - 1], pos[i]]) for i in range(1, depth)]
                         + [int(t.tail_window[pos[-1]])])
            plan = greedy_plan(tensors)
            assert live_peak(tensors) <= plan <= window, (name, widths)


def _check_dimension_bounds(space) -> None:
    """A space of named dimensions is pruned with each slot's live peak and then replayed:
    every slot's (and the tail's) live peak <= the replayed plan <= TFLM's RAM estimate."""
    from entronas.reduce.dimensions import factors

    opts = costs("tflm", "float32")
    fs = factors(space, opts)
    dims = space.backbone_impl.structure(space)[0]
    rng = np.random.default_rng(7)
    for _ in range(15):
        pos = np.array([[int(rng.integers(len(d.grid))) for d in dims]])
        values = [d.grid[p] for d, p in zip(dims, pos[0])]
        layers = space.layers(values)
        plan = greedy_plan(op_tensors([op for layer in layers for op in layer.ops], opts))
        peak = max(int(f.at(f.ram, pos, len(dims))[0]) for f in fs)
        assert 0 < peak <= plan <= estimate(space, values, opts).ram, values


@pytest.mark.parametrize("name", list_spaces())
def test_network_tensors_and_arena_equal_the_whole_graph(name: str) -> None:
    """The per-layer assembly (cached lowerings, per-layer linear parts) that network_ram and
    the reductions use equals lowering the whole op list and counting its features."""
    from entronas.cost.ram import network_ram, network_tensors
    from entronas.cost.tflm import (fixed_persistent_bytes, network_features,
                                    persistent_bytes, prepare_bytes)

    space = get_space(name)
    rng = np.random.default_rng(3)
    for dtype in ("float32", "int8"):
        opts = costs("tflm", dtype)
        checked = 0
        for _ in range(60):
            d = int(rng.integers(space.depth_min, space.depth_max + 1))
            widths = []
            for i in range(d):   # the rules: tied widths repeat, others drawn
                rel = space.relation(d, i)
                widths.append(widths[-1] if rel == "eq" else int(rng.choice(space.grid(d, i))))
            try:
                layers = space.layers(widths)
            except Exception:
                continue
            whole = op_tensors([op for layer in layers for op in layer.ops], opts)
            sizes, life = network_tensors(layers, opts)
            assert list(zip(sizes, *zip(*life))) == whole, (name, widths)
            f = network_features(layers, dtype)
            direct = max(greedy_plan(whole), prepare_bytes(f, dtype)) + \
                persistent_bytes(f, dtype) + fixed_persistent_bytes(dtype)
            assert network_ram(layers, 1, opts) == direct, (name, widths)
            checked += 1
            if checked == 6:
                break
        assert checked, f"no member of {name} drawn"
