"""Data-set samples shaped for a space: int8 calibration inputs and the int8-vs-float check."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..space.base import ChainSpace


def dataset_arrays(space: ChainSpace, dataset: str, n_train: int = 256) -> dict[str, Any]:
    """The first ``n_train`` training inputs and the whole test split, in the space's shape."""
    from ..data import get_dataset

    shape = space.input_shape
    ds = get_dataset(dataset)
    take = min(len(ds.x_train), n_train)
    return {"name": dataset,
            "x_train": np.asarray(ds.x_train[:take], np.float32).reshape(take, *shape),
            "x_test": np.asarray(ds.x_test, np.float32).reshape(len(ds.x_test), *shape),
            "y_test": None if ds.task != "classification" else np.asarray(ds.y_test)}
