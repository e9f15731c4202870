"""``entronas train`` end to end on the offline digits data (the acceptance check)."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

torch = pytest.importorskip("torch")

from entronas.cli import cli, main  # noqa: E402

try:
    from entronas.data import get_dataset

    get_dataset("digits")
    HAVE_DIGITS = True
except Exception:  # pragma: no cover - data package / scikit-learn missing
    HAVE_DIGITS = False

needs_digits = pytest.mark.skipif(not HAVE_DIGITS, reason="entronas.data digits (scikit-learn) "
                                  "not available")


@needs_digits
def test_train_mlp_digits_reaches_95_percent_and_saves(tmp_path) -> None:
    out = tmp_path / "run"
    start = time.perf_counter()
    res = CliRunner().invoke(cli, ["train", "mlp-digits", "--arch", "64,32", "--dataset",
                                   "digits", "--epochs", "30", "--no-progress", "--out",
                                   str(out)], catch_exceptions=False)
    seconds = time.perf_counter() - start
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["metrics"]["accuracy"] >= 0.95, metrics["metrics"]
    assert metrics["epochs"] == 30 and metrics["interrupted"] is False
    assert metrics["resources"]["rom"] == 4 * (64 * 64 + 64 * 32 + 32 * 10)  # w = M*N
    assert metrics["resources"]["rom_with_bias"] == metrics["resources"]["rom"] + 4 * 106
    assert "accuracy" in res.output and "ROM" in res.output and "FLOPs" in res.output
    arch = json.loads((out / "arch.json").read_text())
    assert arch["widths"] == [64, 32] and arch["space_definition"]["name"] == "mlp-digits"
    state = torch.load(out / "model.pt", weights_only=True)
    assert state["layer_modules.0.0.op.weight"].shape == (64, 64)
    assert not list(out.glob("*.part"))
    assert seconds < 60


@pytest.mark.parametrize("args,message", [
    (["train", "mlp-digits", "--arch", "64,33"], "not in space"),
    (["train", "mlp-digits", "--arch", "64,32", "--dataset", "digitz"], "unknown dataset"),
    (["train", "mlp-digitz", "--arch", "64"], "unknown space"),
    (["train", "mlp-digits", "--arch", "6x"], "cannot read --arch"),
    (["train", "mlp-digits"], "--arch is required"),
    (["train", "mlp-digits", "--arch", "64,32", "--threads", "0"], "threads"),
    (["search", "--threads", "0"], "threads"),
])
def test_bad_input_is_one_line_error(args, message, capsys) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


@needs_digits
def test_reference_name_needs_no_arch(capsys) -> None:
    """A reference name trains its architecture (here: the KWS one on mismatched data)."""
    assert main(["train", "micronet-kws-s", "--dataset", "digits", "--epochs", "1",
                 "--no-progress"]) == 2
    assert "expects (1, 49, 10)" in capsys.readouterr().err


def test_dataset_defaults_to_the_one_the_space_is_shaped_for(tmp_path, monkeypatch,
                                                                capsys) -> None:
    """No --dataset: a KWS space asks for the KWS data (missing here), not digits."""
    from entronas.cli.train import dataset_for
    from entronas.space.presets import get_space

    monkeypatch.setenv("ENTRONAS_DATA", str(tmp_path))
    assert main(["train", "micronet-kws-s", "--epochs", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "dataset 'kws' is not installed" in err and "entronas download kws" in err
    assert [dataset_for(get_space(n)) for n in ("mlp-digits", "dscnn-kws", "mobilenet-vww")] \
        == ["digits", "kws", "vww"]


@needs_digits
def test_interrupted_training_saves_and_exits_130(tmp_path, monkeypatch) -> None:
    """Ctrl-C mid-training keeps the model trained so far and says so with exit code 130."""
    import entronas.train.loop as loop

    real, calls = loop._fetch, {"n": 0}

    def fetch_then_stop(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 40:  # a few batches into training
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "_fetch", fetch_then_stop)
    out = tmp_path / "run"
    assert main(["train", "mlp-digits", "--arch", "64,32", "--epochs", "5", "--no-progress",
                 "--out", str(out)]) == 130
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["interrupted"] is True and metrics["epochs"] < 5
