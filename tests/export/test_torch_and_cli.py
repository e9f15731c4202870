"""Trained weights through PyTorch, the CLI, and the one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from entronas.cli import main
from entronas.export import check_fits, folded_weights, forward, measure
from entronas.targets import Target

from .conftest import SPACES, litert_outputs, needs_tflm, needs_torch, space


@needs_torch
@needs_tflm
@pytest.mark.parametrize("name", sorted(SPACES))
def test_torch_model_matches_tflm(name: str) -> None:
    """BN-folded PyTorch weights of every space: numpy reference == torch, TFLM float32 ==
    torch (LiteRT for a network TFLM has no kernel for, GELU)."""
    import torch

    from entronas.cost.tflm import TFLM_OPS
    from entronas.models import build_model
    from entronas.space.lowering import lower

    sp = space(name)
    arch = sp.check_arch([sp.grid(sp.depth_min, i)[0] for i in range(sp.depth_min)])
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
    if not set(lower([op for op, _, _ in w]).codes()) <= TFLM_OPS:
        from entronas.export.report import to_tflite

        got = litert_outputs(to_tflite(w, sp, "float32"), x)
        assert np.abs(got - ref).max() <= 1e-5 * max(1.0, float(np.abs(ref).max()))
        return
    rep = measure(sp, arch, model.state_dict(), "float32", calibration=x)
    assert rep["trained"]
    from entronas.export.report import tflm_outputs

    got = tflm_outputs(rep["_model"], x)
    assert np.abs(got - ref).max() <= 1e-5 * max(1.0, float(np.abs(ref).max()))


@needs_tflm
def test_cli_export_writes_all_files(tmp_path, capsys) -> None:
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps({"space": "mlp-digits", "widths": [32, 16]}))
    assert main(["export", str(arch), "--format", "tflite-int8", "--out",
                 str(tmp_path / "o"), "-t", "stm32g071"]) == 0
    out = capsys.readouterr().out
    assert "measured: ROM" in out and "FITS stm32g071" in out and "estimate (tflm)" in out
    files = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert "memory_report.json" in files and any(f.endswith(".tflite") for f in files)
    c = next((tmp_path / "o").glob("*_model_data.c")).read_text()
    assert "_Alignas(16)" in c
    rep = json.loads((tmp_path / "o" / "memory_report.json").read_text())
    assert rep["trained"] is False and rep["measured"]["head"] > 0 and rep["fits"] is True
    assert "AddFullyConnected" in next((tmp_path / "o").glob("*_op_resolver.h")).read_text()


@needs_tflm
def test_float32_and_int8_exports_go_to_their_own_folders(tmp_path, capsys) -> None:
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps({"space": "mlp-digits", "widths": [32, 16]}))
    assert main(["export", str(arch), "--format", "tflite", "--no-bisect"]) == 0
    assert main(["export", str(arch), "--format", "tflite-int8", "--no-bisect"]) == 0
    f32 = list((tmp_path / "export" / "float32").glob("*.tflite"))
    i8 = list((tmp_path / "export" / "int8").glob("*.tflite"))
    assert len(f32) == len(i8) == 1 and f32[0].read_bytes() != i8[0].read_bytes()
    assert "no target to check against" in capsys.readouterr().out
    assert main(["export", str(arch), "--format", "tflite", "--no-bisect", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)     # the whole stdout is one JSON document
    assert rep["measured"]["flatbuffer"] == f32[0].stat().st_size
    assert rep["files"] and rep["estimate"]["rom_tflm"] > 0


@needs_tflm
def test_c_sources_compile_as_c_and_cpp(tmp_path) -> None:
    """--format c: the .c file compiles with a C compiler, the header from C and C++."""
    import shutil
    import subprocess

    if not (shutil.which("gcc") and shutil.which("g++")):
        pytest.skip("gcc/g++ not installed")
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps({"space": "mlp-digits", "widths": [32, 16]}))
    assert main(["export", str(arch), "--format", "c", "--no-bisect"]) == 0
    out = tmp_path / "export" / "int8"
    c_file = next(out.glob("*_model_data.c"))
    header = next(out.glob("*_model_data.h")).name
    ident = header[:-len("_model_data.h")]
    subprocess.run(["gcc", "-std=c11", "-Wall", "-Werror", "-c", str(c_file), "-o",
                    str(tmp_path / "m.o")], check=True)
    use = tmp_path / "use.c"
    use.write_text(f'#include "{header}"\nunsigned int n(void) {{ return {ident}_model_data_len'
                   f' + (unsigned int){ident}_model_data[0]; }}\n')
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Werror", "-I", str(out), "-c", str(use), "-o",
                    str(tmp_path / "u.o")], check=True)
    cpp = tmp_path / "use.cc"
    cpp.write_text(f'#include "{header}"\nunsigned int m() {{ return {ident}_model_data_len; }}\n')
    subprocess.run(["g++", "-std=c++11", "-Wall", "-Werror", "-I", str(out), "-c", str(cpp),
                    "-o", str(tmp_path / "p.o")], check=True)
    subprocess.run(["g++", "-x", "c++", "-std=c++11", "-c", str(c_file), "-o",
                    str(tmp_path / "mc.o")], check=True)


@needs_tflm
def test_gelu_export_is_refused_for_tflm_before_writing(tmp_path, capsys) -> None:
    sp = space("convmixer-cifar10")
    arch = tmp_path / "arch.json"
    widths = [sp.grid(2, i)[0] for i in range(2)] if sp.depth_min <= 2 else \
        [sp.grid(sp.depth_min, i)[0] for i in range(sp.depth_min)]
    arch.write_text(json.dumps({"space": "convmixer-cifar10", "widths": widths,
                                "space_definition": sp.to_dict()}))
    assert main(["export", str(arch), "--format", "tflite"]) == 2
    err = capsys.readouterr().err
    assert "GELU" in err and "activation = 'relu'" in err and "--runtime litert" in err
    assert not (tmp_path / "export").exists()
    assert main(["export", str(arch), "--format", "tflite", "--runtime", "litert"]) == 0
    assert list((tmp_path / "export" / "float32").glob("*.tflite"))


@needs_tflm
def test_cli_run_dir_lookup(tmp_path) -> None:
    best = tmp_path / "run" / "best"
    best.mkdir(parents=True)
    sp = space("mlp-example")
    (best / "arch.json").write_text(json.dumps({"space": "mlp-example", "widths": [16, 32],
                                                "space_definition": sp.to_dict()}))
    assert main(["export", str(tmp_path / "run"), "--format", "c", "--no-bisect",
                 "--out", str(tmp_path / "c")]) == 0
    assert list((tmp_path / "c").glob("*.c"))


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


def test_check_fits_counts_as_deployed_with_reserves() -> None:
    """An arch that fits the paper's int8 count but not as deployed (int32 biases, per-channel
    parameters, flatbuffer tables, TFLM's persistent arena), nor once a reserve is kept."""
    from entronas.cost import costs, estimate

    sp, arch = space("dscnn-digits"), (64, 64, 64, 64)
    plain = estimate(sp, arch, costs("paper", "int8"))
    tight = Target("tight", rom=plain.rom + 100, ram=plain.ram + 100)
    assert tight.fits(plain.rom, plain.ram, plain.flops)
    res = check_fits(sp, arch, tight)
    assert not res["fits"] and {"rom", "ram"} <= set(res["exceeds"])
    assert "tflm int8" in res["convention"]
    deployed = estimate(sp, arch, costs("tflm", "int8"))
    roomy = Target("roomy", rom=deployed.rom, ram=deployed.ram)
    assert check_fits(sp, arch, roomy)["fits"]
    kept = Target("kept", rom=deployed.rom, ram=deployed.ram, ram_reserve=16)
    assert check_fits(sp, arch, kept)["exceeds"]["ram"] == (deployed.ram, deployed.ram - 16)
