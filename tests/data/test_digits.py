"""digits: offline, documented shapes, seeded stratified 60/20/20 split, [0, 1] scaling."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")

from entronas.data import get_dataset  # noqa: E402


def test_digits_shapes_and_split():
    ds = get_dataset("digits")
    assert ds.input_shape == (1, 8, 8) and ds.num_classes == 10 and ds.task == "classification"
    n = len(ds.x_train) + len(ds.x_val) + len(ds.x_test)
    assert n == 1797
    assert abs(len(ds.x_train) - 0.6 * n) < 10 and abs(len(ds.x_test) - 0.2 * n) < 10
    assert ds.x_train.shape[1:] == (1, 8, 8) and ds.x_train.dtype == np.float32
    assert ds.y_train.dtype == np.int64 and 0.0 <= ds.x_train.min() and ds.x_train.max() == 1.0
    for y in (ds.y_train, ds.y_val, ds.y_test):
        assert set(np.unique(y)) == set(range(10))  # stratified
    again = get_dataset("digits")
    np.testing.assert_array_equal(ds.x_test, again.x_test)
    other = get_dataset("digits", seed=1)
    assert not np.array_equal(ds.y_train, other.y_train)


def test_import_without_torch_side_effects():
    code = "import sys, entronas.data, entronas.data.augment; print('torch' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
