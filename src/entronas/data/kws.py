"""``kws``: Google Speech Commands v0.02, 12 classes, MLPerf MFCC 49x10 (spec §1).

Two label/split pipelines (option ``split``):

- ``"hello-edge"`` (default; the Hello-Edge / Arm ML-zoo pipeline that the paper's
  96.7-97.5 % accuracies point to): 10 words + silence + unknown, split by the sha1
  hash of the speaker id (10 % val, 10 % test), each split topped up with
  ceil(10 %) silence (all-zero) and ceil(10 %) unknown clips (random.seed(59185)).
  Waveform scale int16 / 32768. Only the train archive is used.
- ``"mlperf"`` (MLPerf Tiny / TFDS): val = validation_list.txt + running_tap silence
  clips, test = the separate 4,890-clip test archive, train = everything else (25
  other words as unknown, 5 noise files cut into 1 s / 0.5 s-hop silence clips).
  Waveform scale x / max(x) (with a guard for all-zero / all-negative clips).

Both use the MLPerf MFCC front end (``_audio.mfcc_mlperf``), output (1, 49, 10).
Augmentation (option ``augment``, training split only) happens on the waveform before
the MFCC, so it is applied offline: ``augment_copies`` augmented copies of the training
set are featurised and cached (seeded). ``"hello_edge"``: per clip time shift
U{-1600..1600} samples (zero fill) and, with p = 0.8, background noise at volume
U(0, 0.1) (silence items always get noise at U(0, 1)), clipped to [-1, 1].
``"mlperf_literal"``: the reference's effective behaviour, one noise segment and volume
drawn once (p = 0.8) and added to every training clip; its time shift is a no-op.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .._core.errors import DatasetError
from .._core.validation import check_number
from ._audio import mfcc_mlperf, read_wav
from ._base import DATASETS, DatasetSpec
from ._download import RESOURCES, Resource

RESOURCES["kws"] = {
    "train": Resource(
        url="http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
        bytes=2_428_923_189,
        sha256="af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
        subdir="train",
        mirrors=("https://storage.googleapis.com/download.tensorflow.org/data/speech_commands_v0.02.tar.gz",),
    ),
    "test": Resource(
        url="http://download.tensorflow.org/data/speech_commands_test_set_v0.02.tar.gz",
        bytes=112_563_277,
        sha256="cc2a00c1147c2254e9be3fa0f779d8c17421dc349b86366567a8edfa9acd51df",
        subdir="test",
        mirrors=("https://storage.googleapis.com/download.tensorflow.org/data/speech_commands_test_set_v0.02.tar.gz",),
    ),
}

CLIP = 16000
BG_DIR = "_background_noise_"
WORDS_MLPERF = ["down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes"]
CLASSES_MLPERF = WORDS_MLPERF + ["_silence_", "_unknown_"]
WORDS_HELLO_EDGE = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
CLASSES_HELLO_EDGE = ["_silence_", "_unknown_"] + WORDS_HELLO_EDGE
HELLO_EDGE_SEED = 59185
MAX_NUM_WAVS_PER_CLASS = 2**27 - 1
SHIFT = 1600
NOISE_P, NOISE_VOL = 0.8, 0.1
_CHUNK = 2048

# an item is (source, label); source = ("file", path) | ("bg", path, start) | ("zeros",)
Item = tuple[tuple, int]


def which_set(filename: str, validation_percentage: float = 10,
              testing_percentage: float = 10) -> str:
    """The Hello-Edge / TF speech_commands hash split of one file name."""
    base = Path(filename).name
    hash_name = re.sub(r"_nohash_.*$", "", base)
    h = hashlib.sha1(hash_name.encode()).hexdigest()
    pct = (int(h, 16) % (MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / MAX_NUM_WAVS_PER_CLASS)
    if pct < validation_percentage:
        return "validation"
    if pct < validation_percentage + testing_percentage:
        return "testing"
    return "training"


def _find_dir(base: Path, probe: str) -> Path:
    if (base / probe).exists():
        return base
    for p in sorted(base.rglob(probe)):
        return p.parent
    raise DatasetError(f"no {probe} under {base}; the Speech Commands archive looks incomplete, "
                       "re-download kws")


def _read_list(path: Path) -> set[str]:
    out = set()
    for line in path.read_text().splitlines():
        line = line.strip()
        if line:
            out.add(line[2:] if line.startswith("./") else line)
    return out


def _word_files(train_root: Path) -> list[tuple[str, Path]]:
    """(word, path) of every clip ``<word>/*.wav`` (not the noise folder), sorted."""
    out = []
    for p in sorted(train_root.glob("*/*.wav")):
        word = p.parent.name.lower()
        if word != BG_DIR:
            out.append((word, p))
    return out


def _bg_files(train_root: Path) -> list[Path]:
    return sorted((train_root / BG_DIR).glob("*.wav")) if (train_root / BG_DIR).is_dir() else []


def _silence_items(path: Path, label: int) -> list[Item]:
    n = len(read_wav(path))
    return [(("bg", path, s), label) for s in range(0, n - CLIP, CLIP // 2)]


def mlperf_index(train_root: Path, test_root: Path | None) -> dict[str, list[Item]]:
    """TFDS ``speech_commands`` splits (spec §1.3 A)."""
    val_list = _read_list(train_root / "validation_list.txt")
    test_list = _read_list(train_root / "testing_list.txt")
    unknown, silence = CLASSES_MLPERF.index("_unknown_"), CLASSES_MLPERF.index("_silence_")
    splits: dict[str, list[Item]] = {"train": [], "val": [], "test": []}
    for word, p in _word_files(train_root):
        rel = f"{p.parent.name}/{p.name}"
        label = CLASSES_MLPERF.index(word) if word in WORDS_MLPERF else unknown
        if rel in val_list:
            splits["val"].append((("file", p), label))
        elif rel not in test_list:
            splits["train"].append((("file", p), label))
    for bg in _bg_files(train_root):
        splits["val" if bg.stem == "running_tap" else "train"] += _silence_items(bg, silence)
    if test_root is None:
        raise DatasetError("the Speech Commands test archive is missing; re-download kws")
    for d in sorted(p for p in test_root.iterdir() if p.is_dir()):
        if d.name in CLASSES_MLPERF:
            label = CLASSES_MLPERF.index(d.name)
            splits["test"] += [(("file", p), label) for p in sorted(d.glob("*.wav"))]
    return splits


def hello_edge_index(train_root: Path) -> dict[str, list[Item]]:
    """Arm ML-zoo ``AudioProcessor._prepare_datasets`` (spec §1.3 B), on sorted files: per
    split (validation, testing, training, in that order) the silence items, then the shuffled
    unknowns, then the split itself is shuffled, in one loop on one ``random.Random(59185)``
    stream (TF's speech_commands shuffles the splits in a second loop, which orders them
    differently)."""
    rnd = random.Random(HELLO_EDGE_SEED)
    wanted = {w: CLASSES_HELLO_EDGE.index(w) for w in WORDS_HELLO_EDGE}
    sets = ("validation", "testing", "training")
    data: dict[str, list[Item]] = {s: [] for s in sets}
    unknown: dict[str, list[Item]] = {s: [] for s in sets}
    for word, p in _word_files(train_root):
        s = which_set(p.name)
        if word in wanted:
            data[s].append((("file", p), wanted[word]))
        else:
            unknown[s].append((("file", p), 1))
    for s in sets:
        n = len(data[s])
        data[s] += [(("zeros",), 0)] * int(math.ceil(n * 10 / 100))
        rnd.shuffle(unknown[s])
        data[s] += unknown[s][: int(math.ceil(n * 10 / 100))]
        rnd.shuffle(data[s])
    return {"train": data["training"], "val": data["validation"], "test": data["testing"]}


class _Loader:
    """Reads clips as int16 (padded / truncated to 16,000) with a cache of noise files."""

    def __init__(self) -> None:
        self._bg: dict[Path, np.ndarray] = {}

    def bg(self, path: Path) -> np.ndarray:
        if path not in self._bg:
            self._bg[path] = read_wav(path)
        return self._bg[path]

    def clips(self, items: list[Item]) -> np.ndarray:
        out = np.zeros((len(items), CLIP), dtype=np.int16)
        for i, (src, _) in enumerate(items):
            if src[0] == "file":
                x = read_wav(src[1])[:CLIP]
            elif src[0] == "bg":
                x = self.bg(src[1])[src[2] : src[2] + CLIP]
            else:
                continue
            out[i, : len(x)] = x
        return out


def scale_waveforms(x: np.ndarray, how: str) -> np.ndarray:
    """int16 (B, 16000) -> float32. ``peak``: x / max(x) as the MLPerf reference (which
    gives NaN for an all-zero clip; here such clips stay zero and all-negative clips are
    divided by max|x|). ``int16``: x / 32768."""
    x = x.astype(np.float32)
    if how == "int16":
        return x / np.float32(32768.0)
    m = x.max(axis=1, keepdims=True)
    a = np.abs(x).max(axis=1, keepdims=True)
    d = np.where(m > 0, m, np.where(a > 0, a, 1.0)).astype(np.float32)
    return x / d


def _noise_segment(noise: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if len(noise) <= CLIP:
        return np.pad(noise, (0, CLIP - len(noise)))
    off = int(rng.integers(0, len(noise) - CLIP))  # [0, len - CLIP), as tf.random.uniform
    return noise[off : off + CLIP]


def augment_hello_edge(x: np.ndarray, noises: list[np.ndarray],
                       rng: np.random.Generator) -> np.ndarray:
    """Per-clip random time shift in [-SHIFT, SHIFT) (zero fill) and, with probability
    NOISE_P, background noise at a volume U(0, NOISE_VOL), clipped to [-1, 1]: ML-zoo's
    ``_process_path``. Silence clips (zeros) get noise by the same rule as every other clip
    (TF's speech_commands gives silence U(0, 1) always; ML-zoo, which this follows, does not)."""
    b = len(x)
    shift = rng.integers(-SHIFT, SHIFT, size=b)
    idx = np.arange(CLIP)[None, :] - shift[:, None]
    valid = (idx >= 0) & (idx < CLIP)
    x = np.where(valid, np.take_along_axis(x, np.clip(idx, 0, CLIP - 1), axis=1),
                 0.0).astype(np.float32)
    if noises:
        which = rng.integers(0, len(noises), size=b)
        use = rng.random(b) < NOISE_P
        vol = rng.uniform(0.0, NOISE_VOL, size=b)
        for i in np.flatnonzero(use):
            x[i] += np.float32(vol[i]) * _noise_segment(noises[which[i]], rng)
    return np.clip(x, -1.0, 1.0)


class KWS(DatasetSpec):
    name = "kws"
    task = "classification"
    description = "Google Speech Commands v0.02, 12 classes, MLPerf MFCC 49x10"
    licence = "CC BY 4.0 (Pete Warden / Google)"
    input_shape = (1, 49, 10)
    num_classes = 12
    default_options = {
        "split": "hello-edge",
        "augment": "none",
        "augment_copies": 1,
        "seed": 0,
        "waveform_scale": "auto",
    }
    choices = {
        "split": ("hello-edge", "mlperf"),
        "augment": ("none", "hello_edge", "mlperf_literal"),
        "waveform_scale": ("auto", "peak", "int16"),
    }

    def check_options(self, opts: dict[str, Any]) -> None:
        check_number(opts["augment_copies"], "augment_copies", "kws", lo=1, hi=100, integer=True)
        check_number(opts["seed"], "seed", "kws", lo=0, integer=True)

    def build(self, raw, opts, writer) -> dict:
        train_root = _find_dir(raw / "train" if (raw / "train").is_dir() else raw,
                               "validation_list.txt")
        if opts["split"] == "mlperf":
            test_base = raw / "test"
            test_root = _find_dir(test_base, "_silence_") if test_base.is_dir() else None
            splits, classes = mlperf_index(train_root, test_root), CLASSES_MLPERF
        else:
            splits, classes = hello_edge_index(train_root), CLASSES_HELLO_EDGE
        scale = opts["waveform_scale"]
        if scale == "auto":
            scale = "peak" if opts["split"] == "mlperf" else "int16"
        loader = _Loader()
        noises = [loader.bg(p).astype(np.float32) / np.float32(32768.0)
                  for p in _bg_files(train_root)]
        aug = opts["augment"]
        copies = int(opts["augment_copies"]) if opts["augment"] != "none" else 1
        ss = np.random.SeedSequence(int(opts["seed"]))
        total = sum(len(v) for v in splits.values()) + (copies - 1) * len(splits["train"])
        done = 0
        for split, items in splits.items():
            reps = copies if split == "train" else 1
            n = len(items)
            x_out = writer.new(f"x_{split}", (n * reps, 1, 49, 10), np.float32)
            labels = np.asarray([lab for _, lab in items], dtype=np.int64)
            writer.put(f"y_{split}", np.tile(labels, reps))
            for r in range(reps):
                rng = np.random.default_rng(ss.spawn(1)[0]) if split == "train" else None
                literal = None
                if (split == "train" and aug == "mlperf_literal" and noises
                        and rng.random() < NOISE_P):
                    literal = np.float32(rng.uniform(0, NOISE_VOL)) * _noise_segment(
                        noises[int(rng.integers(0, len(noises)))], rng
                    )
                for s in range(0, n, _CHUNK):
                    chunk = items[s : s + _CHUNK]
                    x = scale_waveforms(loader.clips(chunk), scale)
                    if split == "train" and aug == "hello_edge":
                        x = augment_hello_edge(x, noises, rng)
                    elif literal is not None:
                        x = np.clip(x + literal, -1.0, 1.0)
                    x_out[r * n + s : r * n + s + len(chunk), 0] = mfcc_mlperf(x)
                    done += len(chunk)
                    if total > 20000:
                        sys.stderr.write(f"\rkws: featurised {done}/{total} clips")
        if total > 20000:
            sys.stderr.write("\n")
        return {
            "class_names": list(classes),
            "pipeline": opts["split"],
            "waveform_scale": scale,
            "features": "MLPerf MFCC: 30 ms Hann / 20 ms hop, 40 HTK mel 20-4000 Hz, 10 DCT coefs",
            "augment": {"mode": aug, "copies": copies,
                        "shift_samples": SHIFT if aug == "hello_edge" else 0,
                        "noise_p": NOISE_P, "noise_volume": NOISE_VOL, "noise_files": len(noises)},
            "counts": {k: len(v) for k, v in splits.items()},
        }


DATASETS.register("kws", KWS())
