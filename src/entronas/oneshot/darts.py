"""DARTS-style supernet over a chain space's widths and depths (first-order, Liu et al. 2019).

Why this shape: the searched dimension of our spaces is the width of every layer and the depth,
so the supernet is the widest, deepest network of the space. Each layer's output channels are
multiplied by a soft mask, mask_c = sum_j softmax(alpha_i)_j * [c < w_j] (the probability that
the layer is wider than c), as in channel-masking one-shot NAS (FBNetV2); every allowed depth L
has its own exit head and the output mixes the exits with softmax(beta). Weights are trained on
the training split, architecture parameters on the validation split (alternating steps, first-
order DARTS). The derived network takes the most probable width per layer and depth.

Supported: backbones whose layers do not change with the depth (mlp, dscnn, convmixer,
mobilenet). The autoencoder moves its bottleneck with the depth, so it has no such supernet.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from .._core.arch import Arch
from .._core.errors import InvalidParameterError
from .._core.rng import derive_seed
from ..cost.model import estimate
from ..cost.options import CostOptions
from ..models.build import LayerModule, OpModule
from ..space.base import ChainSpace
from ..targets.base import Target
from ..train.data_device import DeviceData, prepare_data
from ..train.evaluate import evaluate, recalibrate_batchnorm


def _check_supported(space: ChainSpace) -> None:
    if space.backbone == "autoencoder":
        raise InvalidParameterError(
            "the DARTS supernet needs layers that do not depend on the depth; the autoencoder "
            "moves its bottleneck with L, use entropy/random/TPE search for it")
    if not space.chained:
        raise InvalidParameterError(
            f"space {space.name!r} searches named dimensions (shared and inner widths, block "
            "choices); the DARTS supernet masks one width per layer: use entropy/random/TPE/"
            "bo search for it")
    deep = space.depth_max
    for d in space.depths:
        for i in range(d):
            if space.grid(d, i) != space.grid(deep, i):
                raise InvalidParameterError(
                    f"space {space.name!r}: layer {i + 1} has other widths at depth {d}; the "
                    "supernet needs one grid per layer")
    if any(space.relation(d, i) is not None for d in space.depths for i in range(1, d)):
        raise InvalidParameterError("the DARTS supernet does not model width rules (monotone "
                                    "widths, widths tied by identity shortcuts); use entropy/"
                                    "random/TPE search for this space")


class WidthSupernet(nn.Module):
    """The widest, deepest member of ``space`` with soft width masks and one exit per depth."""

    def __init__(self, space: ChainSpace) -> None:
        super().__init__()
        _check_supported(space)
        self.space = space
        deep = space.depth_max
        self.grids = [torch.tensor(space.grid(deep, i), dtype=torch.float32) for i in range(deep)]
        widest = tuple(int(g.max()) for g in self.grids)
        layers = space.layers(widest)[:deep]
        self.blocks = nn.ModuleList(LayerModule(layer) for layer in layers)
        self.exits = nn.ModuleDict()
        for d in space.depths:
            tail = space.tail(d, widest[d - 1])
            self.exits[str(d)] = nn.Sequential(*[OpModule(op) for t in tail for op in t.ops]) \
                if tail else nn.Identity()
        self.alpha = nn.ParameterList(nn.Parameter(1e-3 * torch.randn(len(g))) for g in self.grids)
        self.beta = nn.Parameter(1e-3 * torch.randn(len(space.depths)))

    def arch_parameters(self) -> list[nn.Parameter]:
        return [*self.alpha, self.beta]

    def weight_parameters(self) -> list[nn.Parameter]:
        ids = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in ids]

    def _mask(self, i: int, channels: int, device: torch.device) -> torch.Tensor:
        probs = torch.softmax(self.alpha[i], 0)
        c = torch.arange(channels, device=device, dtype=torch.float32)
        wider = (c[None, :] < self.grids[i].to(device)[:, None]).float()  # (widths, channels)
        return probs @ wider

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        depths = list(self.space.depths)
        mix = torch.softmax(self.beta, 0)
        out: Any = 0
        prev_mask: torch.Tensor | None = None
        for i, block in enumerate(self.blocks):
            for op in block:
                x = op(x)
                # a depthwise op keeps the previous layer's channels: re-mask them so that masked
                # channels do not come back as BatchNorm shifts
                if prev_mask is not None and _is_depthwise(op.desc):
                    x = x * _expand(prev_mask, x)
            prev_mask = self._mask(i, x.shape[1], x.device)
            x = x * _expand(prev_mask, x)
            if i + 1 in depths:
                out = out + mix[depths.index(i + 1)] * self.exits[str(i + 1)](x)
        return out

    def derive(self) -> Arch:
        """The most probable depth and, per layer, the most probable width."""
        depth = list(self.space.depths)[int(torch.argmax(self.beta))]
        widths = [int(self.grids[i][int(torch.argmax(self.alpha[i]))]) for i in range(depth)]
        return self.space.arch(widths)


def _is_depthwise(op: Any) -> bool:
    return op.kind == "conv2d" and op.groups == op.in_channels > 1


def _expand(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return mask.view(1, -1, *([1] * (x.dim() - 2)))


@dataclass
class DartsResult:
    """Supernet accuracy over time and the network derived after each epoch."""

    space: str
    history: list[dict[str, Any]] = field(default_factory=list)
    train_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"space": self.space, "train_seconds": self.train_seconds, "history": self.history}


def train_supernet(space: ChainSpace, dataset: Any, *, epochs: int = 10, batch_size: int = 64,
                   lr: float = 1e-3, arch_lr: float = 3e-4, seed: int = 0, device: str = "auto",
                   target: Target | None = None, options: CostOptions | None = None,
                   log: Callable[[str], None] | None = None) -> DartsResult:
    """Train the supernet (first-order DARTS); record accuracy and the derived network per epoch.

    The validation split trains the architecture parameters; without one, the training split is
    halved (as DARTS does). Accuracy is the supernet's on the test split.
    """
    if dataset.task != "classification":
        raise InvalidParameterError("the DARTS baseline supports classification data sets")
    torch.manual_seed(derive_seed(seed, 0))
    data: DeviceData = dataset if isinstance(dataset, DeviceData) else \
        prepare_data(space, dataset, device)
    xt, yt, xv, yv = data.x_train, data.y_train, data.x_val, data.y_val
    if len(xv) == 0:
        half = len(xt) // 2
        xt, yt, xv, yv = xt[:half], yt[:half], xt[half:], yt[half:]
    model = WidthSupernet(space).to(data.device)
    w_opt = torch.optim.Adam(model.weight_parameters(), lr=lr)
    a_opt = torch.optim.Adam(model.arch_parameters(), lr=arch_lr, betas=(0.5, 0.999),
                             weight_decay=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(derive_seed(seed, 1))
    result = DartsResult(space.name)
    start = time.perf_counter()
    for epoch in range(epochs):
        perm_t = torch.randperm(len(xt), generator=gen).to(data.device)
        perm_v = torch.randperm(len(xv), generator=gen).to(data.device)
        for k, a in enumerate(range(0, len(xt), batch_size)):
            vb = perm_v[(k * batch_size) % len(xv):][:batch_size]
            a_opt.zero_grad(set_to_none=True)
            loss_fn(model(xv[vb]), yv[vb]).backward()
            a_opt.step()
            tb = perm_t[a:a + batch_size]
            w_opt.zero_grad(set_to_none=True)
            loss_fn(model(xt[tb]), yt[tb]).backward()
            w_opt.step()
        recalibrate_batchnorm(model, data)  # a slow BatchNorm momentum lags the weights
        seconds = time.perf_counter() - start
        acc = evaluate(model, data)["accuracy"]
        model.train()
        arch = model.derive()
        costs = estimate(space, arch, options or CostOptions())
        fits = None if target is None else target.fits(costs.rom, costs.ram, costs.flops)
        row = {"epoch": epoch + 1, "seconds": seconds, "accuracy": acc,
               "widths": list(arch.widths), "rom": costs.rom, "ram": costs.ram,
               "flops": costs.flops, "fits": fits}
        result.history.append(row)
        if log:
            log(f"[darts {epoch + 1}/{epochs}] supernet accuracy {acc:.4f}  derived "
                f"{arch.key()}  ROM {costs.rom:,} RAM {costs.ram:,} FLOPs {costs.flops:,}"
                + ("" if fits is None else f"  fits {target.name}: {fits}")
                + f" ({(options or CostOptions()).describe()})")
        if not math.isfinite(acc):  # pragma: no cover - diverged
            break
    result.train_seconds = time.perf_counter() - start
    return result
