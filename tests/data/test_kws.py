"""Speech Commands: both split pipelines on the synthetic archive, padding, silence,
normalisation, augmentation determinism and the feature cache."""

from __future__ import annotations

import hashlib
import math
import re

import numpy as np
import pytest

from entronas.data import get_dataset
from entronas.data._audio import mfcc_mlperf, read_wav
from entronas.data.kws import CLASSES_HELLO_EDGE, CLASSES_MLPERF, scale_waveforms, which_set


def test_mlperf_pipeline_end_to_end(speech_commands):
    root = speech_commands["root"]
    ds = get_dataset("kws", root=root, download=True, split="mlperf")
    # 18 word clips - 2 val - 2 test-list + 4 white_noise silence clips (3 s, 1 s win, 0.5 s hop)
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (18, 2 + 4, 12)
    assert ds.x_train.shape[1:] == (1, 49, 10) == ds.input_shape
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert np.isfinite(ds.x_train).all() and np.isfinite(ds.x_val).all() and np.isfinite(ds.x_test).all()
    assert ds.info["class_names"] == CLASSES_MLPERF and ds.num_classes == 12
    assert sorted(ds.y_test.tolist()) == list(range(12))  # one test clip per class folder
    assert (ds.y_val == CLASSES_MLPERF.index("_silence_")).sum() == 4  # running_tap
    unk = CLASSES_MLPERF.index("_unknown_")
    assert (ds.y_train == unk).sum() == 4  # bed x3 + marvin x3 - bed in val list - marvin in test list
    assert not ds.info["cache_hit"]
    again = get_dataset("kws", root=root, split="mlperf")
    assert again.info["cache_hit"] and again.info["cache_key"] == ds.info["cache_key"]
    assert isinstance(again.x_train, np.memmap)
    np.testing.assert_array_equal(np.asarray(again.x_train), np.asarray(ds.x_train))
    assert not list(root.rglob("*.tmp*")) and not list(root.rglob("*.part"))


def _expected_hello_edge(files):
    wanted = {"yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"}
    known = {"validation": 0, "testing": 0, "training": 0}
    unknown = dict.fromkeys(known, 0)
    for f in files:
        word, name = f.split("/")
        h = hashlib.sha1(re.sub(r"_nohash_.*$", "", name).encode()).hexdigest()
        pct = (int(h, 16) % 2**27) * (100 / (2**27 - 1))
        s = "validation" if pct < 10 else "testing" if pct < 20 else "training"
        (known if word in wanted else unknown)[s] += 1
    return {s: (known[s], math.ceil(known[s] / 10), min(unknown[s], math.ceil(known[s] / 10))) for s in known}


def test_hello_edge_pipeline(speech_commands):
    ds = get_dataset("kws", root=speech_commands["root"], download=True)  # default split
    assert ds.info["pipeline"] == "hello-edge" and ds.info["class_names"] == CLASSES_HELLO_EDGE
    exp = _expected_hello_edge(speech_commands["files"])
    assert all(exp[s][0] > 0 for s in exp)  # the fixture exercises all three hash splits
    for split, key in (("train", "training"), ("val", "validation"), ("test", "testing")):
        y = getattr(ds, f"y_{split}")
        n_known, n_sil, n_unk = exp[key]
        assert len(y) == n_known + n_sil + n_unk
        assert (y == 0).sum() == n_sil and (y == 1).sum() == n_unk
    assert ds.info["waveform_scale"] == "int16"
    # silence items are all-zero clips -> constant MFCC (c0 only)
    sil = np.asarray(ds.x_train)[np.asarray(ds.y_train) == 0]
    if len(sil):
        np.testing.assert_allclose(sil[:, 0, :, 0], 2 * 40 * np.log(1e-6) / np.sqrt(80), rtol=1e-5)


def test_which_set_matches_formula():
    # deterministic: same speaker -> same split regardless of word / index
    assert which_set("yes/0a2b400e_nohash_0.wav") == which_set("no/0a2b400e_nohash_3.wav")
    splits = {which_set(f"{i:08x}_nohash_0.wav") for i in range(200)}
    assert splits == {"training", "validation", "testing"}


def test_short_clip_is_zero_padded(speech_commands):
    ds = get_dataset("kws", root=speech_commands["root"], download=True, split="mlperf",
                     waveform_scale="int16")
    short = speech_commands["train"] / "yes" / "0a2b4010_nohash_0.wav"
    x = read_wav(short)
    assert len(x) == 12000
    padded = np.zeros(16000, np.float32)
    padded[:12000] = x / 32768.0
    want = mfcc_mlperf(padded)
    rows = np.asarray(ds.x_train)[:, 0]
    assert np.min(np.abs(rows - want).reshape(len(rows), -1).max(axis=1)) < 1e-4


def test_silent_clip_no_nan():
    x = scale_waveforms(np.zeros((1, 16000), np.int16), "peak")
    assert np.all(x == 0)
    m = mfcc_mlperf(x)
    assert np.isfinite(m).all()
    np.testing.assert_allclose(m[0, :, 0], 2 * 40 * np.log(1e-6) / np.sqrt(80), rtol=1e-6)
    np.testing.assert_allclose(m[0, :, 1:], 0, atol=1e-4)


def test_peak_normalisation_divides_by_max_not_abs_max():
    x = np.array([[100, -400, 50] + [0] * 15997], np.int16)
    y = scale_waveforms(x, "peak")
    assert y.max() == pytest.approx(1.0) and y.min() == pytest.approx(-4.0)
    neg = scale_waveforms(np.array([[-100, -200] + [0] * 15998], np.int16), "peak")
    assert neg.min() == pytest.approx(-1.0)  # all-non-positive clip: guard uses max|x|


def test_augmentation_deterministic_and_train_only(speech_commands):
    root = speech_commands["root"]
    base = get_dataset("kws", root=root, download=True, split="mlperf")
    a = get_dataset("kws", root=root, split="mlperf", augment="hello_edge", seed=1, augment_copies=2)
    b = get_dataset("kws", root=root, split="mlperf", augment="hello_edge", seed=1, augment_copies=2)
    c = get_dataset("kws", root=root, split="mlperf", augment="hello_edge", seed=2, augment_copies=2)
    lit = get_dataset("kws", root=root, split="mlperf", augment="mlperf_literal", seed=3)
    assert len(a.x_train) == 2 * len(base.x_train)
    np.testing.assert_array_equal(np.asarray(a.y_train), np.tile(np.asarray(base.y_train), 2))
    np.testing.assert_array_equal(np.asarray(a.x_train), np.asarray(b.x_train))
    assert not np.array_equal(np.asarray(a.x_train), np.asarray(c.x_train))
    assert not np.array_equal(np.asarray(a.x_train[: len(base.x_train)]), np.asarray(base.x_train))
    np.testing.assert_array_equal(np.asarray(a.x_val), np.asarray(base.x_val))
    np.testing.assert_array_equal(np.asarray(a.x_test), np.asarray(base.x_test))
    assert len({a.info["cache_key"], c.info["cache_key"], base.info["cache_key"], lit.info["cache_key"]}) == 4
    assert np.isfinite(np.asarray(lit.x_train)).all()


def test_hello_edge_order_is_ml_zoos(speech_commands):
    """The split order of ML-zoo's ``_prepare_datasets``: one loop over validation, testing,
    training (silence, shuffled unknowns, then the split shuffled) on random.seed(59185)."""
    import random
    from pathlib import Path

    from entronas.data.kws import hello_edge_index, which_set

    root = Path(speech_commands["train"])
    wanted = {"yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"}
    data = {s: [] for s in ("validation", "testing", "training")}
    unknown = {s: [] for s in data}
    for p in sorted(root.glob("*/*.wav")):          # the reference's sorted glob
        if p.parent.name == "_background_noise_":
            continue
        (data if p.parent.name in wanted else unknown)[which_set(p.name)].append(("file", p.name))
    rnd = random.Random(59185)
    for s in data:
        n = len(data[s])
        data[s] += [("zeros",)] * math.ceil(n * 10 / 100)
        rnd.shuffle(unknown[s])
        data[s] += unknown[s][: math.ceil(n * 10 / 100)]
        rnd.shuffle(data[s])
    ours = hello_edge_index(root)
    for split, key in (("train", "training"), ("val", "validation"), ("test", "testing")):
        got = [("zeros",) if src[0] == "zeros" else ("file", src[1].name) for src, _ in ours[split]]
        assert got == data[key], split


def test_hello_edge_silence_gets_noise_like_any_clip():
    from entronas.data.kws import NOISE_P, NOISE_VOL, augment_hello_edge

    rng = np.random.default_rng(0)
    noise = [rng.uniform(-1, 1, 48_000).astype(np.float32)]
    x = augment_hello_edge(np.zeros((4000, 16_000), np.float32), noise, np.random.default_rng(1))
    loud = np.abs(x).max(axis=1)
    assert loud.max() <= NOISE_VOL + 1e-6                     # U(0, 0.1), not U(0, 1)
    assert abs((loud > 0).mean() - NOISE_P) < 0.03            # with p = 0.8, not always
