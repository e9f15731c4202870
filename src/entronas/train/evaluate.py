"""Evaluation of a trained candidate: accuracy or anomaly AUC, BatchNorm recalibration."""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn

from ..models.build import ChainNet
from .data_device import DeviceData

EVAL_BATCH = 1024


@torch.no_grad()
def recalibrate_batchnorm(model: ChainNet, data: DeviceData, *, amp: bool = False) -> bool:
    """Set every BatchNorm's running mean/var to the training-set average (one pass).

    Returns False when the model has no BatchNorm. Uses the un-augmented training inputs.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return False
    saved = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average over the chunks
    model.train()
    x = data.x_train
    n = len(x)
    # equal-sized chunks, so the cumulative average is the mean over the data set
    chunk = max(2, -(-n // max(1, -(-n // EVAL_BATCH))))
    try:
        for a in range(0, n - 1, chunk):
            xb = x[a:a + chunk]
            if len(xb) < 2:
                break
            if not data.resident:
                xb = xb.to(data.device, non_blocking=True)
            with torch.autocast(data.device.type, dtype=torch.float16, enabled=amp):
                model(xb)
    finally:
        for bn, m in zip(bns, saved):
            bn.momentum = m
        model.eval()
    return True


@torch.inference_mode()
def _outputs(model: ChainNet, x: torch.Tensor, data: DeviceData, amp: bool,
             fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``fn(output, input)`` over ``x`` in chunks, concatenated (stays on the device)."""
    parts = []
    for a in range(0, len(x), EVAL_BATCH):
        xb = x[a:a + EVAL_BATCH]
        if not data.resident:
            xb = xb.to(data.device, non_blocking=True)
        with torch.autocast(data.device.type, dtype=torch.float16, enabled=amp):
            out = model(xb)
        parts.append(fn(out.float(), xb))
    return torch.cat(parts) if parts else torch.zeros(0, device=data.device)


def evaluate(model: ChainNet, data: DeviceData, *, amp: bool = False) -> dict[str, Any]:
    """Test (and validation) metrics of a trained model in eval mode."""
    model.eval()
    metrics: dict[str, Any] = {}
    if data.task == "classification":
        for split in ("val", "test"):
            x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
            if len(x) == 0:
                metrics[f"{split}_accuracy"] = math.nan
                continue
            logits = _outputs(model, x, data, amp, lambda out, _x: out)
            y = y.to(logits.device)
            metrics[f"{split}_accuracy"] = float((logits.argmax(1) == y).float().mean())
            metrics[f"{split}_loss"] = float(nn.functional.cross_entropy(logits, y))
        metrics["accuracy"] = metrics.pop("test_accuracy")
        return metrics

    def err(out: torch.Tensor, xb: torch.Tensor) -> torch.Tensor:
        return ((out - xb.reshape(out.shape).float()) ** 2).mean(dim=1)

    if len(data.x_val):
        metrics["val_loss"] = float(_outputs(model, data.x_val, data, amp, err).mean())
    errors = _outputs(model, data.x_test, data, amp, err).cpu().double().numpy()
    metrics["test_loss"] = float(errors.mean()) if len(errors) else math.nan
    from ..data.toyadmos import anomaly_scores_to_metrics

    metrics.update(anomaly_scores_to_metrics(errors, data.dataset))
    return metrics
