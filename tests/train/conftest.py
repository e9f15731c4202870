"""Tiny synthetic ArrayDatasets so the loop is tested without downloads."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")


def make_dataset(name: str = "toy", task: str = "classification", **fields: Any) -> Any:
    """An ``entronas.data.ArrayDataset`` when that package exists, else a lookalike."""
    try:
        from entronas.data import ArrayDataset
    except ImportError:  # pragma: no cover - data package not there yet
        from types import SimpleNamespace as ArrayDataset  # type: ignore[assignment]
    base = dict(train_transform=None, test_groups=None, info={})
    base.update(fields)
    return ArrayDataset(name=name, task=task, **base)


@pytest.fixture(scope="session")
def blobs() -> Any:
    """3 well-separated Gaussian classes in 8x8 'images' (linearly separable)."""
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 1, (3, 64)).astype(np.float32) * 2

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 3, n)
        x = centers[y] + rng.normal(0, 0.5, (n, 64)).astype(np.float32)
        return x.reshape(n, 1, 8, 8).astype(np.float32), y.astype(np.int64)

    (xt, yt), (xv, yv), (xs, ys) = split(301), split(60), split(90)
    return make_dataset("blobs", "classification", input_shape=(1, 8, 8), num_classes=3,
                        x_train=xt, y_train=yt, x_val=xv, y_val=yv, x_test=xs, y_test=ys)


@pytest.fixture(scope="session")
def anomaly_data() -> Any:
    """640-d normal vectors on a 4-d subspace; anomalous test files add off-subspace noise."""
    rng = np.random.default_rng(1)
    basis = rng.normal(0, 1, (4, 640)).astype(np.float32) / 4

    def normal(n: int) -> np.ndarray:
        return (rng.normal(0, 1, (n, 4)) @ basis).astype(np.float32)

    files, labels, machines, xs = [], [], [], []
    for f in range(16):  # 2 machines x (4 normal + 4 anomalous files) x 10 vectors
        label, machine = int(f % 8 >= 4), 1 + f // 8
        v = normal(10)
        if label:
            v = v + rng.normal(0, 1.0, v.shape).astype(np.float32)
        xs.append(v)
        files += [f] * 10
        labels.append(label)
        machines.append(machine)
    x_test = np.concatenate(xs)
    groups = {"file": np.asarray(files), "file_label": np.asarray(labels),
              "machine": np.asarray(machines)}
    x_train, x_val = normal(600), normal(60)
    return make_dataset("toy-ad", "anomaly", input_shape=(640,), num_classes=0,
                        x_train=x_train, y_train=np.zeros(600, np.int64), x_val=x_val,
                        y_val=np.zeros(60, np.int64), x_test=x_test,
                        y_test=np.asarray(labels)[files], test_groups=groups)
