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


def test_resnet_reduces_as_deployed_and_uncalibrated_kinds_are_refused():
    """ResNet blocks are in the tflm fit (benchmarks/fit_tflm.py); a layer kind that is not
    is refused in one line before any work, never counted with constants that never saw it."""
    from entronas.cost.tflm import check_calibrated
    from entronas.space.layers import Layer

    sp = get_space("resnet8-cifar10")
    tree, _ = reduce_space(sp, get_target("stm32f412"), costs("tflm", "int8"))
    assert (16, 16, 32, 64) in tree
    block = sp.layers((16, 16, 32, 64))[1]
    odd = Layer("x", "inverted-residual", block.ops)
    with pytest.raises(InvalidSpaceError, match="'inverted-residual' layers, which the tflm") \
            as exc:
        check_calibrated([odd], "space 'x'")
    assert "\n" not in str(exc.value) and "--costs paper" in str(exc.value)


def test_inverted_residual_blocks_share_stage_widths_and_add_on_repeats():
    sp = get_space("mobilenetv2-vww")
    assert [sp.relation(10, i) for i in range(1, 10)] == \
        [None, None, "eq", None, "eq", None, "eq", None, "eq"]
    a = (8, 8, 16, 16, 24, 24, 48, 48, 64, 64)
    layers = sp.layers(a)
    assert [op.kind for op in layers[1].ops] == ["conv2d", "conv2d"]       # t = 1: no expand
    assert [op.kind for op in layers[3].ops] == ["conv2d", "conv2d", "conv2d", "add"]
    expand, dw, project, _ = layers[3].ops
    assert expand.out_channels == 6 * 16 and dw.groups == 96 and project.activation is None
    g = lower(layers[3].ops)
    assert g.ops[-1].inputs == (g.ops[2].output, 0)      # the add reads the block input
    assert g.lifetimes()[0] == (0, 3)                    # ... kept alive across the block
    with pytest.raises(InvalidSpaceError, match="both stride_layers and repeat_layers"):
        get_space("mobilenetv2-vww", options={"stride_layers": (3, 4)})


def test_mobilenetv2_vww_deploys_on_a_256_kib_mcu():
    """Issue 9: the int8 X^f of mobilenetv2-vww on a 1 MiB / 256 KiB MCU, counted as
    deployed, is not empty (and smaller than the space: the expanded tensors bind)."""
    sp = get_space("mobilenetv2-vww")
    tree, _ = reduce_space(sp, get_target("stm32f412"), costs("tflm", "int8"))
    assert 0 < len(tree) < sp.size()
