"""WAV reading and the two audio front ends of the spec, in numpy/scipy only.

- ``mfcc_mlperf``: the MLPerf Tiny KWS features (tf.signal recipe, spec §1.5):
  30 ms periodic-Hann frames, 20 ms hop, |rfft 512|, 40 HTK mel bands 20-4000 Hz
  without area normalisation, ln(+1e-6), DCT-II / sqrt(80), first 10 -> (49, 10).
- ``logmel_slaney``: librosa ``melspectrogram`` + ``10 log10(S + eps)`` as used by the
  DCASE2020 / MLPerf anomaly-detection reference (spec §3.3), with zero ``center`` padding.
Why numpy: no librosa/torchaudio/TF is available, and these ~60 lines are easier to
audit against the reference than a dependency.
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache

import numpy as np
import scipy.fft
from scipy.io import wavfile

from .._core.errors import DatasetError

__all__ = [
    "read_wav",
    "mfcc_mlperf",
    "mel_matrix_htk",
    "mel_matrix_slaney",
    "logmel_slaney",
    "logmel_vectors",
    "SAMPLE_RATE",
]

SAMPLE_RATE = 16000


def read_wav(path: str | os.PathLike, *, expected_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono int16 samples of a 16-bit PCM WAV.

    Multi-channel files are down-mixed by averaging the channels (rounded to int16):
    the datasets here are mono, so this only matters for stray files and is documented
    rather than silently taking channel 0.
    """
    try:
        with warnings.catch_warnings():  # LIST/INFO chunks are harmless metadata
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            rate, data = wavfile.read(os.fspath(path))
    except (ValueError, OSError, EOFError) as exc:
        raise DatasetError(f"cannot read WAV file {path}: {exc}") from exc
    if rate != expected_rate:
        raise DatasetError(f"{path} has sample rate {rate} Hz, expected {expected_rate} Hz")
    if data.dtype != np.int16:
        raise DatasetError(f"{path} holds {data.dtype} samples, expected 16-bit PCM")
    if data.ndim == 2:
        data = np.round(data.astype(np.float64).mean(axis=1)).astype(np.int16)
    return data


# ----------------------------------------------------------------------------- MFCC (KWS)
def _hz_to_mel_htk(f: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


@lru_cache(maxsize=None)
def mel_matrix_htk(
    num_mel: int = 40, num_bins: int = 257, sr: int = SAMPLE_RATE, lo: float = 20.0,
    hi: float = 4000.0
) -> np.ndarray:
    """``tf.signal.linear_to_mel_weight_matrix`` (float32, shape (num_bins, num_mel))."""
    freqs = np.linspace(0.0, sr / 2.0, num_bins)[1:]
    mel = _hz_to_mel_htk(freqs)[:, None]
    e = np.linspace(_hz_to_mel_htk(lo), _hz_to_mel_htk(hi), num_mel + 2)
    lower, center, upper = e[:-2], e[1:-1], e[2:]
    w = np.maximum(0.0, np.minimum((mel - lower) / (center - lower),
                                   (upper - mel) / (upper - center)))
    w = np.vstack([np.zeros((1, num_mel)), w])  # DC row forced to zero, as in TF
    w = w.astype(np.float32)
    w.setflags(write=False)
    return w


@lru_cache(maxsize=None)
def _hann_periodic(n: int) -> np.ndarray:
    w = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)).astype(np.float32)
    w.setflags(write=False)
    return w


def mfcc_mlperf(x: np.ndarray, num_coeffs: int = 10) -> np.ndarray:
    """MFCCs of float waveforms of 16,000 samples: (..., 16000) -> (..., 49, 10), float32."""
    x = np.asarray(x, dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, 480, axis=-1)[..., ::320, :]
    spec = np.abs(scipy.fft.rfft(frames * _hann_periodic(480), n=512, axis=-1))
    logmel = np.log(spec.astype(np.float32) @ mel_matrix_htk() + np.float32(1e-6))
    mfcc = scipy.fft.dct(logmel, type=2, norm=None, axis=-1)[..., :num_coeffs]
    return (mfcc / np.sqrt(np.float32(80.0))).astype(np.float32)


# ------------------------------------------------------------------------ log-mel (ToyCar)
def _hz_to_mel_slaney(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3.0)
    logstep = np.log(6.4) / 27.0
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / logstep, lin)


def _mel_to_hz_slaney(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    logstep = np.log(6.4) / 27.0
    return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), m * (200.0 / 3.0))


@lru_cache(maxsize=None)
def mel_matrix_slaney(
    sr: int = SAMPLE_RATE, n_fft: int = 1024, n_mels: int = 128, fmin: float = 0.0,
    fmax: float | None = None
) -> np.ndarray:
    """``librosa.filters.mel`` defaults (Slaney scale + area norm): shape (n_mels, 1+n_fft//2)."""
    fmax = sr / 2.0 if fmax is None else fmax
    fftfreqs = np.linspace(0.0, sr / 2.0, 1 + n_fft // 2)
    mel_f = _mel_to_hz_slaney(np.linspace(_hz_to_mel_slaney(fmin), _hz_to_mel_slaney(fmax),
                                          n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    w = np.maximum(0.0, np.minimum(lower, upper))
    w *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    w = w.astype(np.float32)
    w.setflags(write=False)
    return w


def logmel_slaney(
    y: np.ndarray, *, sr: int = SAMPLE_RATE, n_fft: int = 1024, hop: int = 512, n_mels: int = 128
) -> np.ndarray:
    """``10 log10(melspectrogram(power=2) + eps)`` of a float waveform: shape (n_mels, T).

    ``center=True`` with zero padding (librosa >= 0.10), T = 1 + len(y) // hop.
    """
    y = np.asarray(y, dtype=np.float32)
    pad = np.pad(y, n_fft // 2)
    if pad.size < n_fft:
        return np.zeros((n_mels, 0), dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(pad, n_fft)[::hop]
    power = np.abs(scipy.fft.rfft(frames * _hann_periodic(n_fft), axis=-1)) ** 2
    mel = mel_matrix_slaney(sr, n_fft, n_mels) @ power.T.astype(np.float32)
    return (10.0 * np.log10(mel + np.finfo(np.float64).eps)).astype(np.float32)


def logmel_vectors(
    y: np.ndarray, *, frames: int = 5, start: int = 50, stop: int | None = 250, n_mels: int = 128
) -> np.ndarray:
    """MLPerf AD vectors: log-mel frames ``start:stop``, 5 consecutive frames concatenated
    frame-major -> (n_vectors, n_mels*frames); 196 vectors for a clip >= 127,488 samples."""
    L = logmel_slaney(y, n_mels=n_mels)[:, start:stop]
    n = L.shape[1] - frames + 1
    if n <= 0:
        return np.zeros((0, n_mels * frames), dtype=np.float32)
    win = np.lib.stride_tricks.sliding_window_view(L, frames, axis=1)  # (n_mels, n, frames)
    return np.ascontiguousarray(win.transpose(1, 2, 0).reshape(n, frames * n_mels))
