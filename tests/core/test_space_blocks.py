"""Backbones written as blocks in a space file: the grammar, its errors, and that the built-in
presets written as blocks give the same networks (one definition of each block's ops)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from entronas._core.errors import InvalidSpaceError
from entronas.cost import CostOptions, costs
from entronas.reduce import reduce_space
from entronas.space import ChainSpace, get_space
from entronas.space.config import load_space_file, space_from_dict
from entronas.targets import Target, get_target

from .brute import brute_feasible
from .test_reduce_bruteforce import check_reduction, small_problems

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_space(tmp_path, heading: str) -> ChainSpace:
    """The space file of the README's toml block after ``heading``, loaded."""
    block = re.search(re.escape(heading) + r".*?```toml\n(.*?)```", README.read_text(),
                      re.S).group(1)
    (tmp_path / "space.toml").write_text(block)
    return load_space_file(tmp_path / "space.toml")[0]


def sample_archs(space: ChainSpace, n: int, seed: int = 0) -> list[tuple[int, ...]]:
    """Up to ``n`` random members of the space (every depth), seeded."""
    rng, out = np.random.default_rng(seed), []
    for _ in range(20 * n):
        d = int(rng.integers(space.depth_min, space.depth_max + 1))
        ws: list[int] = []
        for i in range(d):
            rel = space.relation(d, i)
            ws.append(ws[-1] if rel == "eq" else int(rng.choice(space.grid(d, i))))
        try:
            out.append(space.check_arch(ws))
        except Exception:
            continue
        if len(out) == n:
            break
    return out


@pytest.mark.parametrize("heading,preset", [
    ("A ResNet of basic blocks", "resnet8-cifar10"),
    ("An MCUNet-like MobileNetV2", "mobilenetv2-vww"),
    ("A DS-CNN of depthwise-separable blocks", "dscnn-kws"),
    ("A ConvMixer, the preset", "convmixer-cifar10"),
    ("A small CNN with max pooling", "cnn-digits"),
    ("An MLP of dense layers", "mlp-digits")])
def test_readme_block_files_are_the_presets(tmp_path, heading, preset):
    """Same sizes at every depth, same rules, and the same ops layer for layer (so the same
    costs, entropy, model and export); only ConvMixer's stem keeps its own layer kind."""
    space, ref = readme_space(tmp_path, heading), get_space(preset)
    assert space.backbone == "blocks"
    for d in ref.depths:
        assert space.size(d) == ref.size(d)
        assert [space.relation(d, i) for i in range(d)] == [ref.relation(d, i) for i in range(d)]
        assert [space.grid(d, i) for i in range(d)] == [ref.grid(d, i) for i in range(d)]
    archs = sample_archs(ref, 30)
    assert len(archs) == 30
    for a in archs:
        assert [layer.ops for layer in space.layers(a)] == [layer.ops for layer in ref.layers(a)]
        kinds = [layer.kind for layer in ref.layers(a)]
        assert [layer.kind for layer in space.layers(a)] == \
            [("conv" if k == "patch" else k) for k in kinds]


def test_readme_figures_of_the_block_spaces(tmp_path):
    """The README's counts: ResNet-8 in the paper-small X^f; 929 MobileNetV2s on the F412."""
    tree, _ = reduce_space(readme_space(tmp_path, "A ResNet of basic blocks"),
                           get_target("paper-small"), CostOptions())
    assert (16, 16, 32, 64) in tree
    tree, _ = reduce_space(readme_space(tmp_path, "An MCUNet-like MobileNetV2"),
                           get_target("stm32f412"), costs("tflm", "int8"))
    assert len(tree) == 929


def blocks_space(blocks, **kw) -> ChainSpace:
    layers = sum(b.get("repeat", 1) if isinstance(b, dict) else 1 for b in blocks)
    data = dict(name="b", depth=[1, max(layers, 1)],
                widths=[4, 8, 12], input_shape=[2, 8, 8], num_classes=3, blocks=blocks)
    data.update(kw)
    return space_from_dict(data)


ALL_KINDS = [{"block": "conv", "stride": 2, "widths": [4, 8]},
             {"block": "dwsep", "kernel": 5},
             {"block": "invres", "expansion": 3, "stride": 2, "repeat": 2},
             {"block": "basic", "shortcut": "identity"},
             {"block": "basic", "stride": 2, "widths": [8, 12, 16]},
             {"block": "mixer", "kernel": 3, "activation": "relu"}]


def test_stages_tie_and_add_and_round_trip():
    sp = blocks_space(ALL_KINDS)
    assert sp.depth_max == 7
    assert [sp.relation(7, i) for i in range(7)] == [None, None, None, "eq", "eq", None, None]
    layers = sp.layers((8, 8, 12, 12, 12, 16, 12))
    assert [layer.name for layer in layers[:-1]] == ["conv1", "ds2", "ir3", "ir4", "res5",
                                                      "res6", "mixer7"]
    assert [op.kind for op in layers[3].ops][-1] == "add"            # the stage's repeat adds
    assert [op.kind for op in layers[4].ops] == ["conv2d", "conv2d", "add"]   # identity
    assert len(layers[5].ops) == 4                                    # strided: projection
    assert layers[1].ops[0].kernel == (5, 5) and layers[2].ops[0].out_channels == 24
    assert sp.grid(7, 0) == (4, 8) and sp.grid(7, 5) == (8, 12, 16)
    again = ChainSpace.from_dict(sp.to_dict())
    assert again == sp and again.fingerprint() == sp.fingerprint()
    assert sp.with_options(options={}) == sp


def test_pooling_is_part_of_its_block_and_counted_on_the_pooled_map():
    """conv + 2x2 max pool, dwsep + 3x3 average pool (8x8 -> 4x4 -> 1x1): the layer's output
    (Eq. 4's buffer) is the pooled map, the pool has no weights and no MACs, and the model
    built from the description gives those shapes."""
    import torch

    from entronas.models import build_model

    sp = blocks_space([{"block": "conv", "pool": "max"},
                       {"block": "dwsep", "pool": "avg", "pool_size": 3}])
    conv, ds, head = sp.layers((8, 12))
    assert [(op.kind, op.out_shape) for op in conv.ops] == [("conv2d", (8, 8, 8)),
                                                            ("max_pool", (8, 4, 4))]
    assert [(op.kind, op.out_shape) for op in ds.ops][-1] == ("avg_pool", (12, 1, 1))
    assert (conv.outputs, ds.outputs) == (8 * 4 * 4, 12)
    assert conv.ops[1].macs == conv.ops[1].kernel_weights == conv.ops[1].bias_terms == 0
    assert conv.log2_width == conv.ops[0].log2_width       # Eq. 6: pooling adds nothing
    model = build_model(sp, (8, 12)).eval()
    seen = []
    for m in model.layer_modules:
        m.register_forward_hook(lambda _m, _i, out: seen.append(tuple(out.shape[1:])))
    model(torch.randn(2, 2, 8, 8))
    assert seen[:2] == [(8, 4, 4), (12, 1, 1)]


def test_relu6_is_an_activation_of_the_blocks_and_of_mobilenetv2():
    """MobileNetV2's ReLU6 in the expansion and depthwise convolutions (projection linear),
    from a space file and from the mobilenetv2 backbone's option alike."""
    import torch

    from entronas.models import build_model

    ref = get_space("mobilenetv2-vww", options={"activation": "relu6"})
    arch = (8, 8, 16, 16, 24, 24, 48)
    acts = [op.activation for layer in ref.layers(arch)[:-1] for op in layer.ops
            if op.kind == "conv2d"]
    assert acts[0] == "relu6" and None in acts and set(acts) == {"relu6", None}
    assert [layer.ops for layer in get_space("mobilenetv2-vww").layers(arch)] != \
        [layer.ops for layer in ref.layers(arch)]
    model = build_model(ref, arch)
    assert any(isinstance(m, torch.nn.ReLU6) for m in model.modules())
    assert not any(type(m) is torch.nn.ReLU for m in model.modules())
    with pytest.raises(InvalidSpaceError, match=r"option activation is 'gelu'; use one of"):
        get_space("mobilenetv2-vww", options={"activation": "gelu"})


def test_block_space_reduction_equals_brute_force():
    sp = blocks_space(ALL_KINDS[:5], depth=[2, 6])
    every = brute_feasible(sp, Target("all", None, None, costs="paper"))
    from entronas.cost import estimate
    rom = sorted(estimate(sp, a).rom for a in every)[len(every) // 3]
    target = Target("t", rom, 9000, costs="paper")
    tree, _ = reduce_space(sp, target, CostOptions(ram_model="ops"))
    assert sorted(a.widths for a in tree) == sorted(brute_feasible(sp, target,
                                                                   CostOptions(ram_model="ops")))
    assert 0 < len(tree) < len(every)


@settings(max_examples=30, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(small_problems(["blocks"]))
def test_random_block_spaces_reduce_as_brute_force(problem):
    """Random kinds, strides, shortcuts (ties) and per-block grids, every RAM model."""
    check_reduction(problem)


@pytest.mark.parametrize("blocks,kw,message", [
    ([{"block": "dwconv"}], {}, r"blocks\[1\]\.block is 'dwconv'; use one of \['basic', 'conv'"),
    ([{"block": "conv"}, {"block": "invres", "kernal": 3}], {},
     r"blocks\[2\] \(invres\) has no key 'kernal'; its keys: \['activation', 'block', "
     r"'expansion', 'expansion_width', 'kernel'"),
    ([{"block": "conv"}, {"block": "basic", "stride": 2, "shortcut": "identity"}], {},
     r"blocks\[2\]: shortcut 'identity' needs stride 1"),
    ([{"block": "conv"}, {"block": "basic", "shortcut": "direct"}], {},
     r"blocks\[2\]\.shortcut is 'direct'; use one of \['projection', 'identity'\]"),
    ([{"block": "conv", "kernel": 0}], {}, r"blocks\[1\]\.kernel is 0; it must be a positive"),
    ([{"block": "conv"}, {"block": "mixer", "stride": 2}], {}, r"a mixer block keeps the map"),
    ([{"block": "basic", "shortcut": "identity"}], {}, r"the first block cannot add its input"),
    ([{"block": "conv"}, {"block": "dense"}, {"block": "conv"}], {},
     r"layer 'conv3' \(conv\) needs a \(C,H,W\) feature map but gets a dense layer's"),
    ([{"block": "conv", "repeat": 2}], {"depth": [1, 3]},
     r"the blocks list 2 layers but depth_max is 3"),
    ([{"block": "conv", "widths": [4]}], {"layer_widths": [[4]]},
     r"widths per block or layer_widths, not both"),
    (["conv"], {}, r"blocks\[1\] is 'conv'; write each block as a table"),
    ([], {}, r"blocks must be a non-empty list"),
    ([{"block": "conv", "stride": 2, "padding": "valid"}] * 3, {}, r"leaves no output"),
    ([{"block": "conv", "pool_size": 2}], {}, r"blocks\[1\]: pool_size without pool"),
    ([{"block": "conv"}, {"block": "invres", "activation": "gelu"}], {},
     r"blocks\[2\]\.activation is 'gelu'; use one of \['relu', 'relu6'\]"),
    ([{"block": "dwsep", "pool": "mean"}], {},
     r"blocks\[1\]\.pool is 'mean'; use one of \['none', 'max', 'avg'\]"),
    ([{"block": "conv", "pool": "max", "pool_size": 3}] * 2, {},
     r"layer 'conv2' \(conv\): a 3x3 pooling window does not fit the 2x2 map"),
])
def test_bad_block_files_get_one_line_errors(blocks, kw, message):
    with pytest.raises(InvalidSpaceError, match=message) as exc:
        blocks_space(blocks, **kw)
    assert "\n" not in str(exc.value)


def test_file_grammar_errors_name_the_missing_grid_and_foreign_options(tmp_path):
    with pytest.raises(InvalidSpaceError, match=r"missing key 'widths'"):
        space_from_dict(dict(name="b", depth=[1, 1], input_shape=[2, 8, 8],
                             blocks=[{"block": "conv"}]))
    with pytest.raises(InvalidSpaceError, match=r"backbone 'blocks' has no option 'patch'"):
        space_from_dict(dict(name="b", depth=[1, 1], widths=[4], input_shape=[2, 8, 8],
                             blocks=[{"block": "conv"}], options={"patch": 2}))
    with pytest.raises(InvalidSpaceError, match=r"backbone 'dscnn' has no option 'blocks'"):
        space_from_dict(dict(preset="dscnn-kws", blocks=[{"block": "conv"}]))
    with pytest.raises(InvalidSpaceError, match=r"backbone 'blocks' needs a list of blocks"):
        ChainSpace("b", "blocks", 1, 1, (4,), (2, 8, 8))


IR_FILE = """
[space]
name = "tiny-ir"
depth = [3, 6]
input_shape = [3, 32, 32]
num_classes = 2
[[space.blocks]]
block = "conv"
stride = 2
widths = [8, 16]
[[space.blocks]]
block = "invres"
expansion = 1
widths = [8, 16]
[[space.blocks]]
block = "invres"
stride = 2
repeat = 2
expansion = 4
widths = [16, 24, 32]
[[space.blocks]]
block = "basic"
stride = 2
repeat = 2
widths = [24, 32, 48]

[target]
rom = "256KiB"
ram = "64KiB"
costs = "tflm"
"""


def test_a_block_file_reduces_samples_searches_and_exports_from_the_cli(tmp_path, capsys):
    """No Python written: the file's own target, counted as deployed, through every command."""
    pytest.importorskip("optuna")
    from entronas.cli import main
    from entronas.reduce.storage import load_feasible
    from entronas.search.table import write_table

    f = tmp_path / "ir.toml"
    f.write_text(IR_FILE)
    assert main(["reduce", str(f), "-o", str(tmp_path / "ir.tree")]) == 0
    out = capsys.readouterr().out
    assert "total |X^f| = 30 " in out and "tflm float32" in out
    tree = load_feasible(tmp_path / "ir.tree")
    assert main(["sample", str(tmp_path / "ir.tree"), "-n", "3", "--seed", "0"]) == 0
    table = tmp_path / "t.csv"
    write_table(table, [(a.widths, {"accuracy": 0.5 + sum(a.widths) / 1e3}) for a in tree])
    assert main(["search", "--space", str(f), "--evaluator", f"table:{table}", "-k", "5", "-q",
                 "--run-dir", str(tmp_path / "r")]) == 0
    assert main(["export-best", str(tmp_path / "r"), "--out", str(tmp_path / "exp")]) == 0
    out = capsys.readouterr().out
    assert "FITS ir, counted as tflm float32" in out
    assert (tmp_path / "exp" / "arch.json").exists()
