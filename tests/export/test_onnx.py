"""ONNX export: onnxruntime output equals torch (BN folded), for every backbone."""

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from entronas.export.onnx import check_onnx, write_onnx  # noqa: E402
from entronas.models import build_model  # noqa: E402
from entronas.space import get_space  # noqa: E402

ARCHS = [("dscnn-kws", (84, 112, 84, 84, 84, 196)), ("autoencoder-ad", (64, 32, 8, 32, 64, 640)),
         ("convmixer-cifar10", (64,) * 8), ("mlp-digits", (32, 16)),
         ("mobilenet-vww", (64,) * 8)]


@pytest.mark.parametrize("space_name, widths", ARCHS)
def test_onnxruntime_matches_torch(tmp_path, space_name, widths):
    import torch

    torch.manual_seed(0)
    space = get_space(space_name)
    model = build_model(space, widths)
    # non-trivial BatchNorm statistics so that folding is really exercised
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    path = write_onnx(model, space.input_shape, tmp_path / "m.onnx")
    assert check_onnx(model, space.input_shape, path) <= 1e-4


def test_cli_onnx_export(tmp_path):
    from entronas.cli import main

    arch = tmp_path / "a.json"
    arch.write_text(json.dumps({"space": "mlp-digits", "widths": [32, 16]}))
    assert main(["export", str(arch), "--format", "onnx", "--out", str(tmp_path / "o")]) == 0
    assert list((tmp_path / "o").glob("*.onnx"))
