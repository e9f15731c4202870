"""``digits``: scikit-learn's bundled 8x8 handwritten digits (1,797 real images, offline).

Why it exists: a new user can run a real (small) search without downloading anything.
Split: seeded stratified 60/20/20 train/val/test; pixels 0..16 scaled to [0, 1].
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._core.imports import require
from .._core.validation import check_number
from ._base import DATASETS, DatasetSpec, stratified_split


class Digits(DatasetSpec):
    name = "digits"
    task = "classification"
    description = "scikit-learn load_digits (UCI optical digits, 8x8), bundled offline"
    licence = "CC BY 4.0 (UCI ML repository), shipped with scikit-learn (BSD-3-Clause)"
    input_shape = (1, 8, 8)
    num_classes = 10
    default_options = {"seed": 0, "val_fraction": 0.2, "test_fraction": 0.2}
    cacheable = False

    def check_options(self, opts: dict[str, Any]) -> None:
        check_number(opts["seed"], "seed", "digits", lo=0, integer=True)
        check_number(opts["val_fraction"], "val_fraction", "digits", lo=0.0, hi=0.5)
        check_number(opts["test_fraction"], "test_fraction", "digits", lo=0.0, hi=0.5)

    def build(self, raw, opts, writer) -> dict:
        datasets = require("sklearn.datasets", "torch", "the built-in digits dataset")
        bunch = datasets.load_digits()
        x = (bunch.data.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
        y = bunch.target.astype(np.int64)
        tr, va, te = stratified_split(
            y, (1.0 - opts["val_fraction"] - opts["test_fraction"], opts["val_fraction"],
                opts["test_fraction"]), seed=int(opts["seed"])
        )
        for split, idx in (("train", tr), ("val", va), ("test", te)):
            writer.put(f"x_{split}", x[idx])
            writer.put(f"y_{split}", y[idx])
        return {"class_names": [str(i) for i in range(10)],
                "counts": {"train": len(tr), "val": len(va), "test": len(te)}}


DATASETS.register("digits", Digits())
