"""Batch augmentations in pure torch, run on the batch's own device.

Each transform is ``f(x: Tensor[N, C, H, W], g: torch.Generator) -> Tensor`` and draws
all its randomness as tensors from ``g`` (so a seeded generator gives the same result),
with no per-sample Python loop and no device -> host copy. If ``g`` lives on another
device than ``x`` the few random numbers are drawn there and moved (a tiny
host -> device copy, no synchronisation). Torch is imported lazily so that
``import entronas.data`` works without it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

from .._core.imports import require
from .._core.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["get_transform", "list_transforms", "TRANSFORMS"]

Transform = Callable[["torch.Tensor", "torch.Generator"], "torch.Tensor"]
TRANSFORMS: Registry[Transform] = Registry("transform")


def _torch():
    return require("torch", "torch", "batch augmentation")


def _uniform(torch, n: int, lo: float, hi: float, g, device, dtype=None):
    u = torch.rand(n, generator=g, device=g.device)
    return (lo + (hi - lo) * u).to(device=device, dtype=dtype or torch.float32)


def _flip_mask(torch, x, g):
    return (torch.rand(x.shape[0], generator=g, device=g.device) < 0.5).to(x.device)


@TRANSFORMS.decorator("hflip")
def hflip(x: "torch.Tensor", g: "torch.Generator") -> "torch.Tensor":
    """Horizontal flip with probability 0.5 per sample."""
    torch = _torch()
    m = _flip_mask(torch, x, g).view(-1, *([1] * (x.dim() - 1)))
    return torch.where(m, x.flip(-1), x)


def random_crop(x: "torch.Tensor", g: "torch.Generator", padding: int = 4) -> "torch.Tensor":
    """Zero-pad by ``padding`` on every side and crop back to H x W at a random offset."""
    torch = _torch()
    n, c, h, w = x.shape
    xp = torch.nn.functional.pad(x, (padding, padding, padding, padding))
    oy = torch.randint(0, 2 * padding + 1, (n,), generator=g, device=g.device).to(x.device)
    ox = torch.randint(0, 2 * padding + 1, (n,), generator=g, device=g.device).to(x.device)
    rows = (oy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (ox[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    bi = torch.arange(n, device=x.device)[:, None, None, None]
    ci = torch.arange(c, device=x.device)[None, :, None, None]
    return xp[bi, ci, rows, cols]


@TRANSFORMS.decorator("cifar_crop_flip")
def cifar_crop_flip(x: "torch.Tensor", g: "torch.Generator") -> "torch.Tensor":
    """The standard CIFAR recipe: RandomCrop(32, padding=4) then horizontal flip p=0.5.

    Padding is with zeros of the (possibly normalised) input, i.e. the mean colour when
    the data is mean/std normalised (torchvision pads black before normalising).
    """
    return hflip(random_crop(x, g, 4), g)


@TRANSFORMS.decorator("vww_affine")
def vww_affine(x: "torch.Tensor", g: "torch.Generator") -> "torch.Tensor":
    """MLPerf VWW Keras augmentation: rotation U(+-10 deg), shift U(+-5 %), zoom U[0.9, 1.1]
    per axis, horizontal flip, ``nearest`` fill (border replication), via affine_grid."""
    torch = _torch()
    F = torch.nn.functional
    n = x.shape[0]
    dt = x.dtype if x.is_floating_point() else torch.float32
    ang = _uniform(torch, n, -10.0, 10.0, g, x.device, dt) * (math.pi / 180.0)
    # fraction of width -> [-1, 1] units
    tx = _uniform(torch, n, -0.05, 0.05, g, x.device, dt) * 2.0
    ty = _uniform(torch, n, -0.05, 0.05, g, x.device, dt) * 2.0
    zx = _uniform(torch, n, 0.9, 1.1, g, x.device, dt)
    zy = _uniform(torch, n, 0.9, 1.1, g, x.device, dt)
    cos, sin = torch.cos(ang), torch.sin(ang)
    theta = torch.stack(
        [torch.stack([zx * cos, -zy * sin, tx], -1), torch.stack([zx * sin, zy * cos, ty], -1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x.to(dt), grid, mode="bilinear", padding_mode="border",
                        align_corners=False)
    return hflip(out.to(x.dtype), g)


def get_transform(name: str) -> Transform:
    """The batch transform registered as ``name`` (e.g. ``ArrayDataset.train_transform``)."""
    return TRANSFORMS.get(name)


def list_transforms() -> list[str]:
    return TRANSFORMS.names()
