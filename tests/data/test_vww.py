"""VWW: sorted 10 % split per class, class indices, [0, 1] scaling, gray/resize decoding."""

from __future__ import annotations

import numpy as np

from entronas.data import get_dataset


def test_end_to_end(vww):
    ds = get_dataset("vww", root=vww["root"], download=True)
    # 11 files per class: first int(1.1) = 1 per class held out (test), 10 train
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (20, 0, 2)
    assert ds.x_train.shape[1:] == (3, 96, 96) == ds.input_shape and ds.x_train.dtype == np.float32
    assert ds.y_test.tolist() == [0, 1] and ds.info["class_names"] == ["non_person", "person"]
    x = np.asarray(ds.x_train)
    assert x.min() >= 0.0 and x.max() <= 1.0
    # person images carry the bright vertical blob
    person = x[np.asarray(ds.y_train) == 1]
    assert person[:, :, 40:80, 42:54].mean() > 0.8
    assert ds.train_transform == "vww_affine"
    assert get_dataset("vww", root=vww["root"]).info["cache_hit"]


def test_sorted_split_and_decoding(vww):
    top = vww["top"]
    ds = get_dataset("vww", root=vww["root"], download=True, val_fraction=0.2, augment=False)
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (16, 4, 2)
    # the first sorted files are the held-out ones: the non-96 person image and the first non_person
    first_person = sorted(p.name for p in (top / "person").iterdir())[0]
    assert first_person == "COCO_train2014_000000000008.jpg"
    # grayscale JPEG converted to RGB (3 equal channels), non-96 image resized
    gray = [i for i in range(len(ds.x_train)) if np.allclose(ds.x_train[i], 128 / 255, atol=0.02)]
    assert len(gray) == 1
    big = [i for i in range(len(ds.x_train)) if np.allclose(ds.x_train[i], 200 / 255, atol=0.02)]
    assert len(big) == 1 and ds.y_train[big[0]] == 1
    assert ds.train_transform is None
