"""The one-shot DARTS baseline: supernet masks, derived networks, CLI and report line."""

from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")

from entronas._core.errors import InvalidParameterError  # noqa: E402
from entronas.cli import main  # noqa: E402
from entronas.data import get_dataset  # noqa: E402
from entronas.oneshot import WidthSupernet, train_supernet  # noqa: E402
from entronas.space import get_space  # noqa: E402
from entronas.targets import Target  # noqa: E402


def test_width_mask_is_the_probability_of_a_wider_layer():
    net = WidthSupernet(get_space("dscnn-digits"))
    with torch.no_grad():
        net.alpha[0].copy_(torch.tensor([0.0] * 8))       # uniform over widths 8..64
    mask = net._mask(0, 64, torch.device("cpu"))
    assert torch.allclose(mask[:8], torch.ones(8))         # every width keeps channels 0..7
    assert torch.allclose(mask[8:16], torch.full((8,), 7 / 8))
    assert torch.allclose(mask[56:], torch.full((8,), 1 / 8))
    assert (mask[1:] <= mask[:-1]).all()


def test_supernet_output_and_derived_network():
    space = get_space("dscnn-digits")
    net = WidthSupernet(space)
    y = net(torch.randn(4, 1, 8, 8))
    assert y.shape == (4, 10) and torch.isfinite(y).all()
    with torch.no_grad():
        net.beta.copy_(torch.tensor([0.0, 5.0, 0.0]))     # depth 3
        for a in net.alpha:
            a.zero_()
            a[2] = 5.0                                     # width 24 everywhere
    assert net.derive().widths == (24, 24, 24)


def test_training_records_accuracy_and_feasibility_per_epoch():
    space = get_space("dscnn-digits")
    tight = Target("tight", 20_000, 4096)
    r = train_supernet(space, get_dataset("digits"), epochs=2, device="cpu", target=tight)
    assert [h["epoch"] for h in r.history] == [1, 2]
    for h in r.history:
        assert 0.0 <= h["accuracy"] <= 1.0 and math.isfinite(h["seconds"])
        space.check_arch(h["widths"])
        assert h["fits"] == tight.fits(h["rom"], h["ram"], h["flops"])
    assert r.history[-1]["accuracy"] > 0.3                 # it learns (chance is 0.1)


def test_unsupported_spaces_are_refused():
    with pytest.raises(InvalidParameterError, match="autoencoder"):
        WidthSupernet(get_space("autoencoder-ad"))
    with pytest.raises(InvalidParameterError, match="searches named dimensions"):
        WidthSupernet(get_space("ir7-cifar10"))


def test_cli_and_report(tmp_path, capsys):
    rc = main(["darts", "--epochs", "2", "-t", "stm32g071", "--run-dir", str(tmp_path / "d")])
    out = capsys.readouterr()
    assert rc == 0, out.err
    data = json.loads((tmp_path / "d" / "darts.json").read_text())
    assert data["strategy"] == "darts" and len(data["history"]) == 2
    assert main(["report", str(tmp_path / "d"), "--out", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "best_vs_time.png").exists()
