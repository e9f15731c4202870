"""The training loop: determinism, learning, anomaly scoring, interruption, data paths."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from entronas._core.errors import InvalidParameterError, NotInSpaceError  # noqa: E402
from entronas.space import get_space  # noqa: E402
from entronas.train import (DEFAULT_EPOCHS, TrainResult, default_epochs,  # noqa: E402
                            make_evaluator, train)
from entronas.train import loop  # noqa: E402

MLP = get_space("mlp-digits", num_classes=3)
DSCNN = get_space("dscnn-digits")


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_same_result_and_seed_matters(blobs) -> None:
    kw = dict(epochs=3, batch_size=32, progress=False, device="cpu")
    r1 = train(DSCNN, (8, 8), blobs, seed=3, **kw)
    r2 = train(DSCNN, (8, 8), blobs, seed=3, **kw)
    r3 = train(DSCNN, (8, 8), blobs, seed=4, **kw)
    assert same_state(r1.state_dict, r2.state_dict)
    assert r1.loss_curve == r2.loss_curve and r1.metrics == r2.metrics
    assert not same_state(r1.state_dict, r3.state_dict)
    assert all(v.device.type == "cpu" for v in r1.state_dict.values())


def test_learns_separable_classes_and_reports(blobs) -> None:
    r = train(MLP, (16,), blobs, epochs=15, batch_size=32, progress=False, device="cpu")
    assert isinstance(r, TrainResult)
    assert r.metrics["accuracy"] >= 0.95 and r.metrics["val_accuracy"] >= 0.95
    assert r.score == r.metrics["accuracy"]
    assert len(r.loss_curve) == r.epochs == r.epochs_planned == 15 and not r.interrupted
    assert r.loss_curve[-1] < r.loss_curve[0] / 4
    assert r.train_seconds > 0 and r.samples_per_s == pytest.approx(15 * 301 / r.train_seconds)
    assert r.to_dict()["score"] == r.score


def test_streaming_path_equals_resident_path(blobs) -> None:
    """Data kept on the host (max_device_bytes=0) trains exactly like resident data."""
    kw = dict(epochs=2, batch_size=50, progress=False, device="cpu", seed=1)
    resident = train(DSCNN, (8, 16), blobs, **kw)
    streamed = train(DSCNN, (8, 16), blobs, max_device_bytes=0, **kw)
    assert same_state(resident.state_dict, streamed.state_dict)
    assert loop.prepare_data(DSCNN, blobs, "cpu", max_device_bytes=0).resident is False


def test_keyboard_interrupt_stops_cleanly(blobs, monkeypatch) -> None:
    calls = {"n": 0}
    real_build = loop.build_model

    def build_then_interrupt(*args, **kwargs):
        model = real_build(*args, **kwargs)

        def hook(module, _inp):
            if module.training:
                calls["n"] += 1
                if calls["n"] == 25:  # in the 3rd epoch (10 batches of 32 per epoch)
                    raise KeyboardInterrupt
        model.register_forward_pre_hook(hook)
        return model

    monkeypatch.setattr(loop, "build_model", build_then_interrupt)
    r = train(MLP, (16,), blobs, epochs=50, batch_size=32, progress=False, device="cpu")
    assert r.interrupted and r.epochs == 2 and len(r.loss_curve) == 2
    assert 0.0 <= r.metrics["accuracy"] <= 1.0 and r.samples_per_s > 0
    calls["n"] = 0
    with pytest.raises(KeyboardInterrupt):
        train(MLP, (16,), blobs, epochs=50, batch_size=32, progress=False, device="cpu",
              handle_interrupt=False)


def test_bn_recalibration_fixes_few_step_training(blobs) -> None:
    """With momentum 0.01 and 20 steps the running stats are mostly the init values."""
    kw = dict(epochs=2, batch_size=32, progress=False, device="cpu")
    auto = train(DSCNN, (16, 16), blobs, **kw)
    off = train(DSCNN, (16, 16), blobs, recalibrate_bn=False, **kw)
    assert auto.bn_recalibrated and not off.bn_recalibrated
    assert auto.metrics["accuracy"] >= 0.9 > off.metrics["accuracy"]
    params = {name for name, _ in loop.build_model(DSCNN, (16, 16)).named_parameters()}
    assert same_state({k: auto.state_dict[k] for k in params},
                      {k: off.state_dict[k] for k in params})
    assert not torch.equal(auto.state_dict["layer_modules.0.0.bn.running_var"],
                           off.state_dict["layer_modules.0.0.bn.running_var"])


def test_anomaly_task_trains_autoencoder_and_scores_auc(anomaly_data) -> None:
    space = get_space("autoencoder-ad")
    r = train(space, (32, 32, 8, 32, 640), anomaly_data, epochs=15, batch_size=64,
              progress=False, device="cpu", lr=3e-3)
    assert r.metrics["auc"] >= 0.95 and r.score == r.metrics["auc"]
    assert set(r.metrics["per_machine"]) == {"id_01", "id_02"}
    assert r.loss_curve[-1] < r.loss_curve[0]
    assert math.isfinite(r.metrics["val_loss"]) and math.isfinite(r.metrics["pauc"])


def test_evaluator_prepares_data_once_and_returns_score(blobs, monkeypatch) -> None:
    prepared = []
    from entronas.train import evaluator as evaluator_mod

    real = evaluator_mod.prepare_data
    monkeypatch.setattr(evaluator_mod, "prepare_data",
                        lambda *a, **k: prepared.append(1) or real(*a, **k))
    evaluate = make_evaluator(MLP, blobs, epochs=2, batch_size=64, device="cpu")
    arch = MLP.arch((16,))
    m1 = evaluate(arch, 0)
    m2 = evaluate(arch, 0)
    m3 = evaluate((8,), 1)
    assert len(prepared) == 1
    assert m1 == {**m2, "train_seconds": m1["train_seconds"],
                  "samples_per_s": m1["samples_per_s"]}
    for m in (m1, m3):
        # selection uses the validation split; the test accuracy is only reported
        expected = m["val_accuracy"] if math.isfinite(m["val_accuracy"]) else m["accuracy"]
        assert m["score"] == expected and m["train_seconds"] > 0 and m["epochs"] == 2


def test_errors_are_one_line_entronas_errors(blobs, anomaly_data) -> None:
    with pytest.raises(NotInSpaceError):
        train(MLP, (17,), blobs, epochs=1, progress=False, device="cpu")
    with pytest.raises(InvalidParameterError, match="expects"):
        train(get_space("dscnn-kws"), (84,) * 6, blobs, epochs=1, progress=False, device="cpu")
    with pytest.raises(InvalidParameterError, match="anomaly task"):
        train(get_space("mlp-digits", input_shape=(640,)), (16,), anomaly_data, epochs=1,
              progress=False, device="cpu")
    with pytest.raises(InvalidParameterError, match="lr"):
        train(MLP, (16,), blobs, epochs=1, lr=0.0, progress=False, device="cpu")
    if not torch.cuda.is_available():
        with pytest.raises(InvalidParameterError, match="CUDA is not available"):
            train(MLP, (16,), blobs, epochs=1, progress=False, device="cuda")


def test_amp_is_ignored_on_cpu_and_transform_applied(blobs, monkeypatch) -> None:
    """amp=True on CPU trains in float32; a dataset's train_transform runs on every batch."""
    from entronas.data import augment

    seen = []

    def mark(x, g):
        seen.append((tuple(x.shape), g.device.type))
        return x

    monkeypatch.setitem(augment.TRANSFORMS._items, "test_mark", mark)
    blobs_aug = type(blobs)(**{**blobs.__dict__, "train_transform": "test_mark"})
    r = train(DSCNN, (8, 8), blobs_aug, epochs=1, batch_size=100, amp=True, progress=False,
              device="cpu")
    assert r.amp is False
    assert seen == [((100, 1, 8, 8), "cpu")] * 3  # 301 samples: the single leftover is dropped


def test_default_epochs_table() -> None:
    assert DEFAULT_EPOCHS["dscnn"] == 20 and DEFAULT_EPOCHS["autoencoder"] == 25
    assert DEFAULT_EPOCHS["convmixer"] == DEFAULT_EPOCHS["mobilenet"] == 100
    assert default_epochs(get_space("dscnn-kws")) == 20


def test_trailing_single_sample_batch_is_dropped() -> None:
    assert loop._batches(301, 100) == [(0, 100), (100, 200), (200, 300)]
    assert loop._batches(302, 100)[-1] == (300, 302)
    assert loop._batches(1, 100) == [(0, 1)]
    assert np.isclose(loop.RECALIBRATE_BELOW_STEPS, 688)


def test_tiny_models_train_single_threaded_and_threads_are_restored(blobs, monkeypatch) -> None:
    seen = []
    real_build = loop.build_model

    def build_recording(*args, **kwargs):
        model = real_build(*args, **kwargs)
        model.register_forward_pre_hook(lambda *_: seen.append(torch.get_num_threads()))
        return model

    monkeypatch.setattr(loop, "build_model", build_recording)
    before = torch.get_num_threads()
    train(MLP, (16,), blobs, epochs=1, batch_size=100, progress=False, device="cpu")
    assert set(seen) == {1} and torch.get_num_threads() == before
    with pytest.raises(InvalidParameterError, match="threads"):
        train(MLP, (16,), blobs, epochs=1, progress=False, device="cpu", threads=0)
    assert torch.get_num_threads() == before


def test_adam_is_fused_where_torch_has_the_kernel_and_cpu_runs_no_grad_scaler(blobs,
                                                                              monkeypatch):
    """Issue 12 item 5: the fused Adam kernel (per-tensor loop with fused_adam=False), and no
    GradScaler on the CPU, where float16 autocast never runs; seeded runs stay identical."""
    model = torch.nn.Linear(3, 2)
    assert loop._adam(model, 1e-3, True).defaults["fused"] is True
    assert not loop._adam(model, 1e-3, False).defaults.get("fused")

    def no_scaler(*args, **kwargs):
        raise AssertionError("a GradScaler was made for a CPU run")

    monkeypatch.setattr(torch.amp, "GradScaler", no_scaler)
    # which kernel each training step ran, counted where torch's Adam dispatches to it (whether
    # the two kernels round differently depends on the CPU: on some they agree bit for bit)
    adam_mod = pytest.importorskip("torch.optim.adam")
    steps = {"fused": 0, "single": 0}
    for name, key in (("_fused_adam", "fused"), ("_single_tensor_adam", "single")):
        def counted(*args, _inner=getattr(adam_mod, name), _key=key, **kwargs):
            steps[_key] += 1
            return _inner(*args, **kwargs)
        monkeypatch.setattr(adam_mod, name, counted)
    kw = dict(epochs=2, batch_size=32, progress=False, device="cpu", amp=True, seed=5)
    a, b = train(DSCNN, (8, 8), blobs, **kw), train(DSCNN, (8, 8), blobs, **kw)
    assert same_state(a.state_dict, b.state_dict)
    assert steps["fused"] > 0 and steps["single"] == 0
    fused_steps = steps["fused"]
    c = train(DSCNN, (8, 8), blobs, fused_adam=False, **kw)
    assert steps["fused"] == fused_steps and steps["single"] == fused_steps // 2
    assert abs(a.metrics["accuracy"] - c.metrics["accuracy"]) < 0.05


def test_thread_count_is_capped_by_the_cpus_and_quota_the_process_has(tmp_path, monkeypatch):
    quota = tmp_path / "cpu.max"
    monkeypatch.setattr(loop, "CGROUP_CPU_MAX", str(quota))
    monkeypatch.setattr(torch, "get_num_threads", lambda: 64)
    monkeypatch.setattr(loop.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    quota.write_text("max 100000\n")
    assert loop.machine_threads() == 8                       # the affinity mask
    quota.write_text("150000 100000\n")
    assert loop.machine_threads() == 2                       # 1.5 CPUs of quota: 2 threads
    monkeypatch.setattr(loop, "CGROUP_CPU_MAX", str(tmp_path / "absent"))
    monkeypatch.setattr(loop.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert loop.machine_threads() is None                    # torch's count already fits


def test_global_pooling_gradient_keeps_channels_last_and_trains_bit_identically(blobs,
                                                                                monkeypatch):
    """The pooling's gradient reaches the last ReLU channels-last (autograd's own mean hands
    back NCHW, a 30x slower threshold_backward), and a seeded training run is bit for bit the
    one with the plain mean; in eval and under no_grad the plain op runs (tracing, export)."""
    import entronas.models.build as build

    x = torch.randn(4, 6, 5, 3).to(memory_format=torch.channels_last).requires_grad_()
    seen = []
    x.register_hook(lambda g: seen.append(g.is_contiguous(memory_format=torch.channels_last)))
    (build.global_avg_pool(x, True) * torch.arange(6.0)).sum().backward()
    assert seen == [True]
    plain = x.detach().clone().requires_grad_()
    (plain.mean(dim=(2, 3)) * torch.arange(6.0)).sum().backward()
    assert torch.equal(x.grad, plain.grad)
    with torch.no_grad():
        assert build.global_avg_pool(x, True).grad_fn is None
    assert type(build.global_avg_pool(x, False).grad_fn).__name__ == "MeanBackward1"
    kw = dict(epochs=2, batch_size=32, progress=False, device="cpu", seed=3)
    ours = train(DSCNN, (8, 8), blobs, **kw)
    monkeypatch.setattr(build, "global_avg_pool", lambda x, training: x.mean(dim=(2, 3)))
    assert same_state(ours.state_dict, train(DSCNN, (8, 8), blobs, **kw).state_dict)

