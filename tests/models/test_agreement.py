"""The built PyTorch model and the analytical resource model describe the same network.

Parametrised over ``list_spaces()`` so every registered space is covered automatically. For
each space we reduce it with a target of 1.5x the cheapest network's ROM/RAM (a small,
non-empty X^f), draw 3 seeded members and add the widest network of the deepest depth.

Conventions (exact equality, no tolerance):
- parameters of the unfolded model = kernel weights + own biases + 2 per BatchNorm channel
  (gamma, beta; the running mean/var are buffers, not parameters);
- parameters after ``fold_batchnorm`` = ``layer_weights(layer, CostOptions(bias=True))``;
- FLOPs = 2 x MACs of conv/linear ops = ``FlopCounterMode`` total for one sample (it counts
  conv, mm and addmm only; bias adds, BatchNorm, activations, pooling and residual adds are
  counted by neither);
- output elements of ``layer_modules[i]`` (forward hook, per sample) = ``layer.outputs``.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from entronas.cost import CostOptions, estimate, layer_weights  # noqa: E402
from entronas.models import build_model, count_parameters, fold_batchnorm  # noqa: E402
from entronas.models.build import output_elements  # noqa: E402
from entronas.reduce import reduce_space  # noqa: E402
from entronas.space import get_space, list_spaces  # noqa: E402
from entronas.space.layers import Layer  # noqa: E402
from entronas.targets.base import Target  # noqa: E402


def unfolded_params(layer: Layer) -> int:
    """Kernel weights + own bias + BatchNorm gamma/beta of every op of ``layer``."""
    n = 0
    for op in layer.ops:
        n += op.kernel_weights
        if op.kind in ("conv2d", "linear"):
            n += op.out_channels * (int(op.bias) + 2 * int(op.batchnorm))
    return n


def sample_archs(name: str) -> list[tuple[int, ...]]:
    space = get_space(name)
    d = space.depth_min
    cheapest = estimate(space, [space.grid(d, i)[0] for i in range(d)])
    tree, _ = reduce_space(space, Target("test", rom=int(cheapest.rom * 1.5),
                                         ram=int(cheapest.ram * 1.5), costs="paper"))
    assert len(tree) > 0
    archs = list(tree.widths_of(tree.sample(3, seed=1234)))
    dmax = space.depth_max
    archs.append(tuple(space.grid(dmax, i)[-1] for i in range(dmax)))
    return archs


CASES = [(name, widths) for name in list_spaces() for widths in sample_archs(name)]


def seeded_model(space, widths):
    torch.manual_seed(0)
    model = build_model(space, widths)
    # non-trivial BatchNorm statistics so folding is really exercised
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return model.eval()


@pytest.mark.parametrize("name,widths", CASES, ids=[f"{n}-{'-'.join(map(str, w))}"
                                                    for n, w in CASES])
def test_model_matches_resource_model(name: str, widths: tuple[int, ...]) -> None:
    space = get_space(name)
    layers = space.layers(widths)
    model = seeded_model(space, widths)
    assert len(model.layer_modules) == len(layers)

    # parameters, per layer and in total
    for module, layer in zip(model.layer_modules, layers):
        assert count_parameters(module) == unfolded_params(layer), layer.name
    folded = fold_batchnorm(model)
    with_bias = CostOptions(bias=True)
    for module, layer in zip(folded.layer_modules, layers):
        assert count_parameters(module) == layer_weights(layer, with_bias), layer.name
    assert count_parameters(folded) == estimate(space, widths, with_bias).weights

    # FLOPs for one sample
    x = torch.randn(1, *space.input_shape)
    with FlopCounterMode(display=False) as counter:
        with torch.no_grad():
            y = model(x)
    assert counter.get_total_flops() == estimate(space, widths).flops

    # per-layer output elements u_i, and the output shape
    assert output_elements(model, x) == [layer.outputs for layer in layers]
    assert tuple(y.shape[1:]) == layers[-1].out_shape

    # folding keeps the function
    torch.testing.assert_close(folded(x), y, rtol=1e-5, atol=1e-5)
    assert all(m.bn is None for m in folded.op_modules())
