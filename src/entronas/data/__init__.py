"""Datasets for the MCU NAS benchmarks, behind one registry.

``get_dataset(name, root=..., download=..., **options)`` returns an ``ArrayDataset`` of
featurised, channels-first float32 arrays. Registered: ``digits`` (built in, offline),
``kws`` (Speech Commands v0.02, MFCC 49x10), ``cifar10``, ``toyadmos`` (ToyCar log-mel
vectors, anomaly task) and ``vww`` (96x96 person / no person). Raw archives are
downloaded (verified, atomically) under ``default_root()``; features are cached there as
memory-mappable ``.npy``. Importing this package needs numpy/scipy only.
"""

from __future__ import annotations

from ._base import (
    DATASETS,
    ArrayDataset,
    dataset_info,
    default_root,
    download_dataset,
    get_dataset,
    is_installed,
    list_datasets,
)
from ._download import RESOURCES, Resource

# importing the modules registers the datasets
from . import digits, kws, cifar10, toyadmos, vww  # noqa: E402,F401  isort: skip

__all__ = [
    "ArrayDataset",
    "DATASETS",
    "RESOURCES",
    "Resource",
    "dataset_info",
    "default_root",
    "download_dataset",
    "get_dataset",
    "is_installed",
    "list_datasets",
]
