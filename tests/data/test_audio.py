"""The numpy front ends against the spec's stated properties and against direct,
loop-based re-implementations of the same formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from entronas.data._audio import (
    logmel_slaney,
    logmel_vectors,
    mel_matrix_htk,
    mel_matrix_slaney,
    mfcc_mlperf,
    read_wav,
)
from entronas.data.toyadmos import n_vectors

from _data_fixtures import write_wav


def _mfcc_direct(x: np.ndarray) -> np.ndarray:
    """Straightforward float64 MFCC: explicit frames, DFT sums, triangles and DCT loop."""
    n = np.arange(480)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * n / 480)
    mel = lambda f: 1127.0 * math.log(1 + f / 700.0)  # noqa: E731
    edges = np.linspace(mel(20), mel(4000), 42)
    k = np.arange(257)
    dft = np.exp(-2j * np.pi * np.outer(k, np.arange(512)) / 512)
    out = np.zeros((49, 10))
    for t in range(49):
        frame = np.zeros(512)
        frame[:480] = x[320 * t : 320 * t + 480] * w
        spec = np.abs(dft @ frame)
        logmel = np.zeros(40)
        for m in range(40):
            lo, c, hi = edges[m], edges[m + 1], edges[m + 2]
            acc = 0.0
            for b in range(1, 257):
                mb = mel(8000.0 * b / 256)
                acc += spec[b] * max(0.0, min((mb - lo) / (c - lo), (hi - mb) / (hi - c)))
            logmel[m] = math.log(acc + 1e-6)
        for j in range(10):
            out[t, j] = 2 * sum(logmel[m] * math.cos(math.pi * j * (2 * m + 1) / 80) for m in range(40))
    return out / math.sqrt(80)


def test_mfcc_matches_direct_implementation():
    rng = np.random.default_rng(0)
    x = (0.3 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000) + 0.05 * rng.normal(size=16000))
    got = mfcc_mlperf(x.astype(np.float32))
    assert got.shape == (49, 10) and got.dtype == np.float32
    np.testing.assert_allclose(got, _mfcc_direct(x), rtol=1e-3, atol=2e-3)


def test_mfcc_batched_equals_single():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 0.1, (3, 16000)).astype(np.float32)
    batch = mfcc_mlperf(x)
    assert batch.shape == (3, 49, 10)
    for i in range(3):
        np.testing.assert_allclose(batch[i], mfcc_mlperf(x[i]), rtol=1e-5, atol=1e-5)


def test_mel_matrix_htk_properties():
    W = mel_matrix_htk()
    assert W.shape == (257, 40)
    assert np.all(W[0] == 0)  # DC row forced to zero
    assert W.max(axis=0).max() <= 1.0 and W.max() == pytest.approx(0.995, abs=1e-3)  # spec value
    assert np.all(W.max(axis=0) > 0.5)  # every band catches at least one bin
    nz = np.flatnonzero(W.sum(axis=1))
    assert nz.min() == 1 and nz.max() == 127  # 31.25 .. 3968.75 Hz
    assert 1127 * math.log1p(20 / 700) == pytest.approx(31.748, abs=1e-3)
    assert 1127 * math.log1p(4000 / 700) == pytest.approx(2146.08, abs=1e-2)


def test_dct_scaling_equals_ortho_except_c0():
    scipy_fft = pytest.importorskip("scipy.fft")
    v = np.random.default_rng(2).normal(size=40)
    ours = scipy_fft.dct(v, type=2, norm=None) / np.sqrt(80)
    ortho = scipy_fft.dct(v, type=2, norm="ortho")
    np.testing.assert_allclose(ours[1:], ortho[1:], rtol=1e-12)
    assert ours[0] == pytest.approx(np.sqrt(2) * ortho[0])


def test_tone_peaks_in_expected_mel_band():
    f = 1000.0
    x = (0.5 * np.sin(2 * np.pi * f * np.arange(16000) / 16000)).astype(np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, 480)[::320]
    spec = np.abs(np.fft.rfft(frames * (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(480) / 480)), n=512))
    band = int(np.argmax((spec @ mel_matrix_htk()).mean(axis=0)))
    e = np.linspace(1127 * np.log1p(20 / 700), 1127 * np.log1p(4000 / 700), 42)
    centre_hz = 700 * (np.exp(e[1:-1] / 1127) - 1)
    assert abs(centre_hz[band] - f) < 60


def test_mfcc_matches_torch_stft_recipe():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).normal(0, 0.1, 16000).astype(np.float32)
    win = torch.hann_window(480, periodic=True)
    st = torch.stft(torch.nn.functional.pad(torch.from_numpy(x)[None], (16, 16))[0], n_fft=512,
                    hop_length=320, win_length=480, window=win, center=False, return_complex=True)
    spec = st.abs().T.numpy()  # (frames, 257)
    frames = np.lib.stride_tricks.sliding_window_view(x, 480)[::320]
    ref = np.abs(np.fft.rfft(frames * win.numpy(), n=512))
    assert spec.shape[0] >= 49
    np.testing.assert_allclose(spec[:49], ref, rtol=1e-3, atol=1e-4)


def test_slaney_mel_matrix_properties():
    M = mel_matrix_slaney()
    assert M.shape == (128, 513)
    assert np.all(M >= 0) and np.all(M.sum(axis=1) > 0)
    # area normalisation: each triangle integrates (over Hz) to ~1
    df = 8000 / 512
    area = M.sum(axis=1) * df
    assert np.all(np.abs(area[10:] - 1) < 0.15) and abs(area[10:].mean() - 1) < 0.02


def test_slaney_against_librosa_if_installed():
    librosa = pytest.importorskip("librosa")
    np.testing.assert_allclose(mel_matrix_slaney(), librosa.filters.mel(sr=16000, n_fft=1024, n_mels=128),
                               rtol=1e-4, atol=1e-7)


def test_logmel_direct():
    rng = np.random.default_rng(4)
    y = rng.normal(0, 0.1, 16000).astype(np.float32)
    L = logmel_slaney(y)
    assert L.shape == (128, 1 + 16000 // 512)
    pad = np.pad(y.astype(np.float64), 512)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(1024) / 1024)
    t = 7
    p = np.abs(np.fft.rfft(pad[512 * t : 512 * t + 1024] * w)) ** 2
    want = 10 * np.log10(mel_matrix_slaney().astype(np.float64) @ p + np.finfo(float).eps)
    np.testing.assert_allclose(L[:, t], want, atol=1e-3)


def test_logmel_vectors_layout_and_counts():
    y = np.random.default_rng(5).normal(0, 0.1, 128000).astype(np.float32)
    V = logmel_vectors(y)
    L = logmel_slaney(y)[:, 50:250]
    assert V.shape == (196, 640)
    np.testing.assert_array_equal(V[3, :128], L[:, 3])
    np.testing.assert_array_equal(V[3, 128:256], L[:, 4])
    np.testing.assert_array_equal(V[195, 512:], L[:, 199])
    assert n_vectors(127488) == 196 and n_vectors(127487) == 195
    assert n_vectors(32000) == 9 and n_vectors(27000) == 0  # 2 s clip: 9 vectors
    for n in (127487, 60000, 27000, 26000):
        assert len(logmel_vectors(np.zeros(n, np.float32))) == n_vectors(n)
    assert np.isfinite(logmel_vectors(np.zeros(128000, np.float32))).all()


def test_read_wav_stereo_downmix_and_rate(tmp_path):
    from entronas._core.errors import DatasetError
    from scipy.io import wavfile

    p = tmp_path / "s.wav"
    write_wav(p, np.stack([np.full(100, 100), np.full(100, 300)], 1))
    np.testing.assert_array_equal(read_wav(p), np.full(100, 200, np.int16))
    wavfile.write(tmp_path / "r.wav", 8000, np.zeros(10, np.int16))
    with pytest.raises(DatasetError, match="8000"):
        read_wav(tmp_path / "r.wav")
    (tmp_path / "bad.wav").write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(DatasetError, match="cannot read"):
        read_wav(tmp_path / "bad.wav")
