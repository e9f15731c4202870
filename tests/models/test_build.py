"""Builder behaviour beyond the resource agreement: errors, overrides, folding, lazy torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from entronas._core.errors import InvalidParameterError, NotInSpaceError  # noqa: E402
from entronas.models import build_model, fold_batchnorm  # noqa: E402
from entronas.space import get_space  # noqa: E402


def test_arch_not_in_space_is_rejected() -> None:
    space = get_space("dscnn-kws")
    with pytest.raises(NotInSpaceError, match="not in space"):
        build_model(space, (84, 100, 84, 84, 84, 84))
    with pytest.raises(NotInSpaceError, match="depth"):
        build_model(space, (84, 84))
    with pytest.raises(NotInSpaceError, match="belongs to space"):
        build_model(space, get_space("mlp-digits").arch((64, 32)))


def test_num_classes_overrides_the_tail_only() -> None:
    space = get_space("mlp-digits")
    model = build_model(space, (64, 32), num_classes=3)
    assert model(torch.zeros(2, 64)).shape == (2, 3)
    assert build_model(space, (64, 32)).layer_modules[-1][0].op.out_features == 10
    with pytest.raises(InvalidParameterError, match="no classifier tail"):
        build_model(get_space("mlp-example"), (16, 16), num_classes=3)


def test_dense_layer_flattens_feature_map_input() -> None:
    """The digits images (1, 8, 8) feed the (64,) MLP directly; result equals flat input."""
    torch.manual_seed(0)
    model = build_model(get_space("mlp-digits"), (16,)).eval()
    x = torch.randn(4, 1, 8, 8)
    torch.testing.assert_close(model(x), model(x.reshape(4, 64)))


def test_asymmetric_same_padding_matches_tensorflow() -> None:
    """A 10x4 stride-2 'same' conv on 49x10 pads top 4, bottom 5, left 1, right 1 (spec 1.6)."""
    space = get_space("dscnn-kws", options={"first_stride": 2})
    model = build_model(space, (84,) * 6)
    stem = model.layer_modules[0][0]
    assert isinstance(stem.pad, torch.nn.ZeroPad2d)
    assert tuple(stem.pad.padding) == (1, 1, 4, 5)
    assert model.layer_modules[0](torch.zeros(1, 1, 49, 10)).shape == (1, 84, 25, 5)


def test_fold_batchnorm_keeps_original_and_output() -> None:
    torch.manual_seed(0)
    model = build_model(get_space("autoencoder-ad"), (64, 48, 8, 48, 640))
    model.train()
    x = torch.randn(32, 640)
    model(x)  # update running statistics away from their initial values
    model.train()
    folded = fold_batchnorm(model)
    assert model.training and not folded.training
    assert any(m.bn is not None for m in model.op_modules())
    model.eval()
    torch.testing.assert_close(folded(x), model(x), rtol=1e-5, atol=1e-5)


def test_bn_uses_keras_constants() -> None:
    model = build_model(get_space("dscnn-digits"), (8, 8))
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(b.eps == 1e-3 and b.momentum == 0.01 for b in bns)


def test_importing_entronas_parts_does_not_import_torch() -> None:
    # (entronas.cli is left out: importing it also imports other teams' command modules)
    code = ("import sys, entronas, entronas.models, entronas.train, entronas.space.references; "
            "import entronas.train.config; assert 'torch' not in sys.modules, 'torch imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("name", sorted(__import__("entronas.space", fromlist=["x"])
                                         .list_spaces()))
def test_in_place_activations_give_the_same_gradients(name, monkeypatch) -> None:
    """ReLU / ReLU6 run in place (one tensor fewer per layer and step): on every preset's
    deepest, narrowest network, one training step's loss and gradients are bit for bit the
    ones with out-of-place activations, and autograd finds no overwritten tensor."""
    import entronas.models.build as build

    space = get_space(name)
    d = space.depth_max
    widths = space.check_arch(tuple(space.grid(d, i)[0] for i in range(d)))
    x = torch.randn(2, *space.input_shape, generator=torch.Generator().manual_seed(0))

    def step(inplace: bool):
        monkeypatch.setattr(build, "INPLACE_ACTIVATIONS", inplace)
        torch.manual_seed(0)
        model = build_model(space, widths).to(memory_format=torch.channels_last) \
            if len(space.input_shape) == 3 else build_model(space, widths)
        model.train()
        loss = model(x).square().mean()
        loss.backward()
        return loss.detach(), [p.grad for p in model.parameters()], model

    loss, grads, model = step(True)
    assert any(getattr(m, "inplace", False) for m in model.modules()) == any(
        op.activation in ("relu", "relu6") for layer in space.layers(widths) for op in layer.ops)
    ref_loss, ref_grads, _ = step(False)
    assert torch.equal(loss, ref_loss)
    assert all(torch.equal(a, b) for a, b in zip(grads, ref_grads))
