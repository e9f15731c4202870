"""ResNet basic blocks: a shortcut spanning several ops of one layer, width ties, deployment."""

from __future__ import annotations

import pytest

from entronas._core.errors import InvalidSpaceError, NotInSpaceError
from entronas.cost import CostOptions, costs, estimate
from entronas.reduce import reduce_space
from entronas.space import get_space
from entronas.space.lowering import lower
from entronas.targets import Target, get_target

from .brute import brute_feasible


def test_identity_blocks_tie_widths_and_strided_blocks_project():
    sp = get_space("resnet8-cifar10")
    assert [sp.relation(4, i) for i in range(1, 4)] == ["eq", None, None]
    with pytest.raises(NotInSpaceError, match="M_2 = M_1"):
        sp.check_arch((16, 24, 32, 64))
    layers = sp.layers((16, 16, 32, 64))
    assert [op.kind for op in layers[1].ops] == ["conv2d", "conv2d", "add"]
    assert [op.kind for op in layers[2].ops] == ["conv2d", "conv2d", "conv2d", "add"]
    free = get_space("resnet8-cifar10", options={"shortcut": "projection"})
    assert free.relation(4, 1) is None and len(free.layers((16, 24, 32, 64))[1].ops) == 4


def test_the_block_input_stays_alive_until_the_add():
    """What the ops/tflm RAM models count: TFLM keeps a shortcut's tensor until its ADD."""
    block = get_space("resnet8-cifar10").layers((16, 16, 32, 64))[2]
    g = lower(block.ops)
    assert [op.code for op in g.ops] == ["CONV_2D", "CONV_2D", "CONV_2D", "ADD"]
    main, proj, add = g.ops[1], g.ops[2], g.ops[3]
    assert proj.inputs == (0,)                          # the 1x1 projection reads the input
    assert g.lifetimes()[0] == (0, 2)                   # ... which lives until then
    assert add.inputs == (proj.output, main.output)
    assert g.lifetimes()[main.output] == (1, 3)         # the main path waits for the ADD


@pytest.mark.parametrize("shortcut", ["identity", "projection"])
def test_reduction_with_ties_equals_brute_force(shortcut):
    sp = get_space("resnet8-cifar10", widths=(8, 16, 24, 32), options={"shortcut": shortcut})
    every = [estimate(sp, a) for a in (tuple(w) for w in brute_feasible(
        sp, Target("all", None, None, costs="paper")))]
    rom = sorted(c.rom for c in every)[len(every) // 3]
    target = Target("t", rom, None, costs="paper")
    tree, _ = reduce_space(sp, target, CostOptions())
    assert sorted(a.widths for a in tree) == sorted(brute_feasible(sp, target))
    assert 0 < len(tree) < len(every)


def test_tflm_refuses_uncalibrated_blocks_in_one_line():
    sp = get_space("resnet8-cifar10")
    with pytest.raises(InvalidSpaceError, match="'resblock' layers, which the tflm") as exc:
        reduce_space(sp, get_target("stm32f412"), costs("tflm", "int8"))
    assert "\n" not in str(exc.value) and "--costs paper" in str(exc.value)
    with pytest.raises(InvalidSpaceError, match="not calibrated"):
        estimate(sp, (16, 16, 32, 64), costs("tflm", "int8"))


def test_readme_resnet_space_file_loads_and_reduces(tmp_path):
    """The README's ResNet space file is a valid file of the same space as the preset."""
    import re
    from pathlib import Path

    from entronas.space.config import load_space_file

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"A ResNet of basic blocks.*?```toml\n(.*?)```", text, re.S).group(1)
    (tmp_path / "r.toml").write_text(block)
    space, _ = load_space_file(tmp_path / "r.toml")
    preset = get_space("resnet8-cifar10")
    assert space.backbone == "resnet" and space.size() == preset.size() == 735
    assert space.layers((16, 16, 32, 64)) == preset.layers((16, 16, 32, 64))
    tree, _ = reduce_space(space, get_target("paper-small"), CostOptions())
    assert (16, 16, 32, 64) in tree
