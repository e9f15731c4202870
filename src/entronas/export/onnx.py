"""ONNX export of the PyTorch model (optional extras ``torch`` + ``export``).

Why keep it: a desktop cross-check (onnxruntime) and an interchange format; it is not the MCU
path (deploy.md section 1). Uses torch's TorchScript exporter (``dynamo=False``), which needs
only the ``onnx`` package, and exports the BatchNorm-folded model so every BN disappears.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._core.imports import require


def write_onnx(model: Any, input_shape: tuple[int, ...], path: str | Path) -> Path:
    """Write the folded ``model`` for a batch-1 channels-first input; returns the path."""
    torch = require("torch", "torch", "ONNX export")
    require("onnx", "export", "ONNX export")
    from ..models import fold_batchnorm

    folded = fold_batchnorm(model).eval()
    x = torch.zeros(1, *input_shape)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(folded, (x,), str(path), input_names=["input"],
                          output_names=["output"], dynamo=False)
    return path


def check_onnx(model: Any, input_shape: tuple[int, ...], path: str | Path, *,
               seed: int = 0, batch: int = 4) -> float:
    """Run the ONNX file in onnxruntime on random inputs; return max |ort - torch|.

    Compares against the unfolded eval-mode torch model, so BN folding is checked as well.
    """
    torch = require("torch", "torch", "ONNX check")
    ort = require("onnxruntime", "export", "checking the ONNX export")
    import numpy as np

    x = np.random.default_rng(seed).standard_normal((batch, *input_shape)).astype(np.float32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = np.concatenate([sess.run(None, {"input": x[i:i + 1]})[0] for i in range(batch)])
    with torch.no_grad():
        want = model.eval()(torch.from_numpy(x)).numpy()
    return float(np.abs(got - want).max())
