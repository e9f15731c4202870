"""Trained weights through PyTorch, the CLI, and the one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from entronas.cli import main
from entronas.export import check_fits, folded_weights, forward, measure, refined_cost_options
from entronas.targets import Target

from .conftest import needs_tflm, needs_torch, space


@needs_torch
@needs_tflm
@pytest.mark.parametrize("name", ["dscnn-digits", "autoencoder-ad", "mobilenet-vww"])
def test_torch_model_matches_tflm(name: str) -> None:
    """BN-folded PyTorch weights: numpy reference == torch, TFLM float32 == torch."""
    import torch

    from entronas.models import build_model

    sp = space(name)
    arch = [sp.grid(sp.depth_min, i)[0] for i in range(sp.depth_min)]
    torch.manual_seed(0)
    model = build_model(sp, arch)
    for m in model.modules():  # non-trivial BN statistics so folding is exercised
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    model.eval()
    x = np.random.default_rng(0).normal(size=(4, *sp.input_shape)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).double().numpy().reshape(4, -1)
    w = folded_weights(model)
    assert np.abs(np.asarray(forward(w, x)).reshape(4, -1) - ref).max() < 1e-4
    rep = measure(sp, arch, model.state_dict(), "float32", calibration=x)
    assert rep["trained"]
    from entronas.export.report import tflm_outputs

    got = tflm_outputs(rep["_model"], x)
    assert np.abs(got - ref).max() <= 1e-5 * max(1.0, float(np.abs(ref).max()))


@needs_tflm
def test_cli_export_writes_all_files(tmp_path) -> None:
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps({"space": "mlp-digits", "widths": [32, 16]}))
    assert main(["export", str(arch), "--format", "tflite-int8", "--out",
                 str(tmp_path / "o")]) == 0
    files = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert "memory_report.json" in files and any(f.endswith(".tflite") for f in files)
    cc = next((tmp_path / "o").glob("*_model_data.cc")).read_text()
    assert "alignas(16) const unsigned char" in cc
    rep = json.loads((tmp_path / "o" / "memory_report.json").read_text())
    assert rep["trained"] is False and rep["measured"]["head"] > 0
    assert "AddFullyConnected" in next((tmp_path / "o").glob("*_op_resolver.h")).read_text()


@needs_tflm
def test_cli_run_dir_lookup(tmp_path) -> None:
    best = tmp_path / "run" / "best"
    best.mkdir(parents=True)
    sp = space("mlp-example")
    (best / "arch.json").write_text(json.dumps({"space": "mlp-example", "widths": [16, 32],
                                                "space_definition": sp.to_dict()}))
    assert main(["export", str(tmp_path / "run"), "--format", "c", "--no-bisect",
                 "--out", str(tmp_path / "c")]) == 0
    assert list((tmp_path / "c").glob("*.cc"))


@pytest.mark.parametrize("content, needle", [
    ('{"spa', "is not an arch file"),
    ('{"space": "mlp-example", "widths": [16, 17]}', "width 17 of layer 2"),
    ('{"space": "no-such-space", "widths": [16]}', "no-such-space"),
])
def test_bad_arch_files_one_line(tmp_path, capsys, content: str, needle: str) -> None:
    f = tmp_path / "a.json"
    f.write_text(content)
    assert main(["export", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err


def test_unknown_format_one_line(tmp_path, capsys) -> None:
    f = tmp_path / "a.json"
    f.write_text('{"space": "mlp-example", "widths": [16, 32]}')
    assert main(["export", str(f), "--format", "keras"]) == 2
    assert "unknown format 'keras'" in capsys.readouterr().err


def test_missing_extra_gives_pip_command(tmp_path, capsys, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "tflite_micro", None)  # import now raises ImportError
    f = tmp_path / "a.json"
    f.write_text('{"space": "mlp-example", "widths": [16, 32]}')
    assert main(["export", str(f)]) == 2
    assert "pip install 'entronas[export]'" in capsys.readouterr().err


def test_check_fits_flags_int8_overheads() -> None:
    """An arch that fits the plain int8 model but not after int32 biases / metadata / op graph."""
    from entronas.cost import CostOptions, estimate

    sp, arch = space("dscnn-digits"), (64, 64, 64, 64)
    plain = estimate(sp, arch, CostOptions.for_dtype("int8"))
    tight = Target("tight", rom=plain.rom + 100, ram=plain.ram + 100)
    assert tight.fits(plain.rom, plain.ram, plain.flops)
    res = check_fits(sp, arch, tight)
    assert not res["fits"] and "rom" in res["exceeds"]
    assert check_fits(sp, arch, Target("big", rom=10**7, ram=10**7))["fits"]
    # per-tensor FC: no per-channel parameters on FC layers, 24 B per conv channel
    opts = refined_cost_options("int8", space("autoencoder-ad"))
    assert opts.fc_channel_bytes == 0 and opts.channel_bytes == 24
    assert refined_cost_options("int8", per_channel_fc=True).fc_channel_bytes == 24
