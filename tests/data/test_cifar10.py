"""CIFAR-10: pickle batches end to end, restricted unpickler, per-file MD5, normalisation."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from entronas._core.errors import DatasetError
from entronas.data import get_dataset
from entronas.data.cifar10 import MEAN, STD, restricted_load


def _expected(batches, names):
    x = np.concatenate([batches[n][b"data"] for n in names]).reshape(-1, 3, 32, 32)
    y = np.concatenate([np.asarray(batches[n][b"labels"]) for n in names])
    return x, y


def test_end_to_end_and_cache(cifar):
    ds = get_dataset("cifar10", root=cifar["root"], download=True, normalize="unit")
    x, y = _expected(cifar["batches"], [f"data_batch_{i}" for i in range(1, 6)])
    assert ds.x_train.shape == (100, 3, 32, 32) and ds.x_test.shape == (20, 3, 32, 32)
    assert len(ds.x_val) == 0 and ds.x_val.shape[1:] == (3, 32, 32)
    np.testing.assert_allclose(ds.x_train, x / 255.0, atol=1e-6)
    np.testing.assert_array_equal(ds.y_train, y)
    assert ds.train_transform == "cifar_crop_flip"
    assert ds.info["class_names"][0] == "airplane"
    again = get_dataset("cifar10", root=cifar["root"], normalize="unit")
    assert again.info["cache_hit"]


def test_normalisations(cifar):
    ms = get_dataset("cifar10", root=cifar["root"], download=True)
    raw = get_dataset("cifar10", root=cifar["root"], normalize="raw", augment=False)
    x, _ = _expected(cifar["batches"], ["test_batch"])
    np.testing.assert_array_equal(raw.x_test, x.astype(np.float32))
    want = (x / 255.0 - np.array(MEAN)[None, :, None, None]) / np.array(STD)[None, :, None, None]
    np.testing.assert_allclose(ms.x_test, want, atol=1e-5)
    assert raw.train_transform is None


def test_val_split_stratified(cifar):
    ds = get_dataset("cifar10", root=cifar["root"], download=True, val_fraction=0.2)
    assert len(ds.x_train) + len(ds.x_val) == 100 and 15 <= len(ds.x_val) <= 25


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_code():
    with pytest.raises(DatasetError, match="posix.system|os.system|not allowed"):
        restricted_load(pickle.dumps({b"data": _Evil()}, protocol=2))
    with pytest.raises(DatasetError, match="not allowed"):
        restricted_load(pickle.dumps(_Evil(), protocol=4))
    arr = np.arange(6, dtype=np.uint8).reshape(2, 3)
    out = restricted_load(pickle.dumps({b"data": arr, b"labels": [1, 2]}, protocol=2))
    np.testing.assert_array_equal(out[b"data"], arr)


def test_malicious_batch_in_archive(cifar, monkeypatch):
    from entronas.data import cifar10

    path = cifar["src"] / "data_batch_3"
    path.write_bytes(pickle.dumps({b"data": _Evil(), b"labels": []}, protocol=2))
    from _data_fixtures import make_tar, resource_for, md5
    from entronas.data import _download

    arc = make_tar(cifar["src"].parent, cifar["archive"])
    monkeypatch.setitem(_download.RESOURCES, "cifar10", {"python": resource_for(arc, use_md5=True)})
    monkeypatch.setitem(cifar10.FILE_MD5, "data_batch_3", md5(path))
    with pytest.raises(DatasetError, match="refusing to load"):
        get_dataset("cifar10", root=cifar["root"], download=True)
    assert not [p for p in (cifar["root"] / "cifar10").rglob("*") if p.suffix == ".npy"]


def test_per_file_md5_checked(cifar, monkeypatch):
    from entronas.data import cifar10

    monkeypatch.setitem(cifar10.FILE_MD5, "test_batch", "0" * 32)
    with pytest.raises(DatasetError, match="checksum mismatch.*test_batch"):
        get_dataset("cifar10", root=cifar["root"], download=True)
