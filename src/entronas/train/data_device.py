"""The data set as tensors on the training device (or pinned on the host when too large).

A batch is then one ``index_select`` on the device instead of collating samples in Python.
"""

from __future__ import annotations

import math
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from .._core.errors import InvalidParameterError
from ..space.base import ChainSpace

#: fraction of free CUDA memory the resident data set may take
DEVICE_FRACTION = 0.5


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cuda"`` without CUDA is an error."""
    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidParameterError(
            f"device {name!r} requested but CUDA is not available; use --device cpu or auto")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise InvalidParameterError(
            f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from exc


# ------------------------------------------------------------------------------------ data
@dataclass
class DeviceData:
    """The splits of one data set as tensors shaped like the space's input.

    ``resident``: the tensors live on ``device`` (batches are gathered there); otherwise they
    stay on the host and each batch is copied.
    """

    name: str
    task: str
    device: torch.device
    resident: bool
    input_shape: tuple[int, ...]
    num_classes: int
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    transform: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None
    transform_name: str | None
    dataset: Any


def _as_tensor(a: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> torch.Tensor:
    arr = np.ascontiguousarray(a, dtype=dtype)
    with warnings.catch_warnings():  # read-only memmaps: we never write to them
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        t = torch.from_numpy(arr)
    return t.reshape(len(arr), *shape) if shape else t


def _fit_shape(x: np.ndarray, space: ChainSpace, dataset: Any, split: str) -> tuple[int, ...]:
    target = tuple(space.input_shape)
    have = tuple(x.shape[1:])
    if have == target or math.prod(have) == math.prod(target):
        return target
    raise InvalidParameterError(
        f"dataset {dataset.name!r} {split} inputs have shape {have} but space {space.name!r} "
        f"expects {target}; pick a space made for this data set")


def prepare_data(space: ChainSpace, dataset: Any, device: str | torch.device = "auto", *,
                 max_device_bytes: int | None = None) -> DeviceData:
    """Convert an ``ArrayDataset`` once into tensors on ``device`` (when it fits).

    Inputs are reshaped to ``space.input_shape`` when the element counts match (the digits
    images (1, 8, 8) feed the (64,) MLP). ``max_device_bytes`` caps the resident size; the
    default is half the free CUDA memory on GPUs and unlimited on the CPU (the arrays are
    host memory already, memory maps are shared, not copied).
    """
    dev = resolve_device(device)
    splits = ("train", "val", "test")
    xs = {s: getattr(dataset, f"x_{s}") for s in splits}
    ys = {s: getattr(dataset, f"y_{s}") for s in splits}
    if len(xs["train"]) == 0:
        raise InvalidParameterError(f"dataset {dataset.name!r} has no training samples")
    shape = _fit_shape(xs["train"], space, dataset, "train")
    for s in ("val", "test"):
        if len(xs[s]):
            _fit_shape(xs[s], space, dataset, s)
    size = sum(int(np.asarray(xs[s]).size) * 4 + int(np.asarray(ys[s]).size) * 8
               for s in splits)
    if max_device_bytes is None:
        if dev.type == "cuda":
            free, _ = torch.cuda.mem_get_info(dev)
            max_device_bytes = int(free * DEVICE_FRACTION)
        else:
            max_device_bytes = sys.maxsize
    resident = size <= max_device_bytes
    tensors: dict[str, torch.Tensor] = {}
    for s in splits:
        x = _as_tensor(xs[s], shape, np.float32)
        y = _as_tensor(np.asarray(ys[s]).reshape(-1), (), np.int64)
        if resident:
            x, y = x.to(dev), y.to(dev)
        tensors[f"x_{s}"], tensors[f"y_{s}"] = x, y
    transform = None
    name = getattr(dataset, "train_transform", None)
    if name:
        from ..data.augment import get_transform

        transform = get_transform(name)
    return DeviceData(dataset.name, dataset.task, dev, resident, shape,
                      int(getattr(dataset, "num_classes", 0)), transform=transform,
                      transform_name=name, dataset=dataset, **tensors)


def _check_task(space: ChainSpace, data: DeviceData) -> int | None:
    """The classifier size to build with (None: keep the space's); errors on a mismatch."""
    if data.task == "classification":
        if space.num_classes:
            return data.num_classes
        return None
    if data.task == "anomaly":
        if space.num_classes:
            raise InvalidParameterError(
                f"dataset {data.name!r} is an anomaly task (reconstruction) but space "
                f"{space.name!r} ends in a {space.num_classes}-way classifier; use an "
                "autoencoder space such as autoencoder-ad")
        return None
    raise InvalidParameterError(f"unknown task {data.task!r} of dataset {data.name!r}")


def _fetch(x: torch.Tensor, idx: torch.Tensor, data: DeviceData) -> torch.Tensor:
    """Gather a batch; for host-resident data copy only the batch (pinned on CUDA)."""
    out = x.index_select(0, idx)
    if data.resident:
        return out
    if data.device.type == "cuda":
        return out.pin_memory().to(data.device, non_blocking=True)
    return out.to(data.device)
