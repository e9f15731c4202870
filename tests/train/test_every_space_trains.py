"""Every registered space trains end to end (one short epoch on synthetic data of its shape)."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("torch")

from entronas.data import ArrayDataset  # noqa: E402
from entronas.space import get_space, list_spaces  # noqa: E402
from entronas.space.base import rule_allows  # noqa: E402
from entronas.train import train  # noqa: E402


def _smallest(space):
    depth = space.depth_min
    widths, prev = [], None
    for i in range(depth):
        grid = space.grid(depth, i)
        rel = space.relation(depth, i)
        ok = [w for w in grid if i == 0 or rule_allows(rel, prev, w)]
        widths.append(ok[0])
        prev = ok[0]
    return tuple(widths)


def _dataset(space, n=16, seed=0):
    rng = np.random.default_rng(seed)
    shape = space.input_shape
    x = rng.standard_normal((n, *shape)).astype(np.float32)
    empty = np.zeros((0, *shape), np.float32)
    if space.num_classes == 0 and space.backbone == "autoencoder":
        groups = {"file": np.arange(n) // 4, "file_label": np.array([0, 1, 0, 1]),
                  "machine": np.array([1, 1, 1, 1])}
        return ArrayDataset("ae-like", "anomaly", shape, 0, x, np.zeros(n, np.int64), empty,
                            np.zeros(0, np.int64), x, np.zeros(n, np.int64), test_groups=groups)
    classes = space.num_classes or space.widths[0]
    y = rng.integers(0, classes, n)
    return ArrayDataset("synthetic", "classification", shape, classes, x, y, empty,
                        np.zeros(0, np.int64), x, y)


@pytest.mark.parametrize("name", list_spaces())
def test_space_trains_one_epoch(name):
    space = get_space(name)
    if name == "mlp-example":
        pytest.skip("the running example has no classifier and no task")
    arch = _smallest(space)
    r = train(space, arch, _dataset(space), epochs=1, batch_size=8, progress=False, device="cpu")
    assert r.epochs == 1 and all(math.isfinite(v) for v in r.loss_curve)
    assert math.isfinite(r.score)
