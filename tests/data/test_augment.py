"""Batch transforms: shape, dtype/device preservation, seeded determinism, semantics."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from entronas._core.errors import UnknownNameError  # noqa: E402
from entronas.data.augment import get_transform, list_transforms, random_crop  # noqa: E402


def _gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", ["cifar_crop_flip", "hflip", "vww_affine"])
def test_shape_and_determinism(name):
    f = get_transform(name)
    x = torch.rand(16, 3, 32, 32, generator=_gen(0))
    a, b, c = f(x, _gen(1)), f(x, _gen(1)), f(x, _gen(2))
    assert a.shape == x.shape and a.dtype == x.dtype and a.device == x.device
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_hflip_semantics():
    x = torch.arange(64 * 2 * 4 * 4, dtype=torch.float32).reshape(64, 2, 4, 4)
    y = get_transform("hflip")(x, _gen(0))
    flipped = (y == x.flip(-1)).flatten(1).all(1)
    same = (y == x).flatten(1).all(1)
    assert torch.all(flipped ^ same) and 10 < int(flipped.sum()) < 54


def test_crop_semantics():
    x = torch.rand(32, 3, 8, 8, generator=_gen(3)) + 1.0  # strictly positive -> padding visible as 0
    y = random_crop(x, _gen(4), padding=2)
    xp = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(len(x)):  # every output is some 8x8 window of the padded input
        wins = xp[i].unfold(1, 8, 1).unfold(2, 8, 1).permute(1, 2, 0, 3, 4)  # (5,5,C,8,8)
        assert (wins == y[i]).flatten(2).all(-1).any()
    assert (y == 0).any() and (y != 0).any()


def test_cifar_zero_offset_identity_probability():
    x = torch.rand(4000, 1, 32, 32, generator=_gen(5)) + 1.0
    y = get_transform("cifar_crop_flip")(x, _gen(6))
    unchanged = int((y == x).flatten(1).all(1).sum())
    assert 5 < unchanged < 60  # P(offset (4,4) and no flip) = 1/81 * 1/2 -> ~25 expected


def test_vww_affine_stays_in_range():
    x = torch.rand(8, 3, 96, 96, generator=_gen(7))
    y = get_transform("vww_affine")(x, _gen(8))
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    const = torch.full((2, 3, 96, 96), 0.25)
    assert torch.allclose(get_transform("vww_affine")(const, _gen(9)), const)  # border fill


def test_unknown_transform():
    assert {"cifar_crop_flip", "hflip", "vww_affine"} <= set(list_transforms())
    with pytest.raises(UnknownNameError):
        get_transform("cutmix")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda_device():
    x = torch.rand(8, 3, 32, 32, device="cuda")
    g = torch.Generator(device="cuda").manual_seed(0)
    for name in ("cifar_crop_flip", "vww_affine"):
        assert get_transform(name)(x, g).device == x.device
