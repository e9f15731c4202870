"""``toyadmos``: ToyADMOS ToyCar from DCASE2020 Task 2 (spec §3), the MLPerf Tiny AD task.

Features (reference ``file_to_vector_array`` + MLPerf slice): log-mel 128 bands
(n_fft 1024, hop 512, Slaney mel, power 2, 10 log10), frames 50..249, 5 consecutive
frames concatenated frame-major -> 640-d vectors, 196 per full-length clip, no
normalisation. Train = all normal ``train/`` clips (ids 01-07 with the additional-train
zip); val = the last ``val_fraction`` of the unshuffled train vectors (Keras
``validation_split``, reference 0.1); test = labelled ``test/`` clips, per machine id
sorted normal files then sorted anomaly files. Files too short for one vector are
skipped (listed in ``info["skipped_files"]``); unlabelled eval files (``id_05_*.wav``
without a normal/anomaly prefix) are ignored. Everything is streamed into memory-mapped
cache files (the full train set is ~3.5 GB float32).

Evaluation (``anomaly_scores_to_metrics``): file score = mean vector error, then per
machine id AUC and pAUC (sklearn ``roc_auc_score(max_fpr=0.1)``, McClish-standardised,
as the DCASE baseline), then the arithmetic mean over ids.
"""

from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from scipy.io import wavfile

from .._core.errors import DatasetError, InvalidParameterError
from .._core.imports import require
from .._core.validation import check_number
from ._audio import logmel_vectors, read_wav
from ._base import DATASETS, ArrayDataset, DatasetSpec
from ._download import RESOURCES, Resource

RESOURCES["toyadmos"] = {
    "dev": Resource(
        url="https://zenodo.org/record/3678171/files/dev_data_ToyCar.zip?download=1",
        bytes=1_816_443_231,
        md5="4dec75ca8d9f666aa9e4c1894a740501",
        filename="dev_data_ToyCar.zip",
    ),
    "additional_train": Resource(
        url="https://zenodo.org/record/3727685/files/eval_data_train_ToyCar.zip?download=1",
        bytes=861_354_584,
        md5="a5d4ccd498af70b04dd74b644b820006",
        filename="eval_data_train_ToyCar.zip",
    ),
}

MACHINE = "ToyCar"
N_MELS, FRAMES, START, STOP, HOP = 128, 5, 50, 250, 512
MAX_FPR = 0.1
_LABELLED = re.compile(r"^(normal|anomaly)_id_(\d\d)_\d+\.wav$")
_TRAIN = re.compile(r"^normal_id_(\d\d)_\d+\.wav$")


def n_vectors(num_samples: int) -> int:
    """Vectors a clip of ``num_samples`` yields (196 for >= 127,488 samples)."""
    t = 1 + num_samples // HOP  # centre-padded STFT frame count
    return max(0, min(t, STOP) - START - FRAMES + 1)


def _num_samples(path: Path) -> int:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            _, data = wavfile.read(path, mmap=True)
        n = int(data.shape[0])
        del data
        return n
    except (ValueError, OSError, EOFError) as exc:
        raise DatasetError(f"cannot read WAV file {path}: {exc}") from exc


def file_vectors(path: Path) -> np.ndarray:
    """(n, 640) float32 vectors of one clip (int16 / 32768, stereo down-mixed by mean)."""
    y = read_wav(path).astype(np.float32) / np.float32(32768.0)
    return logmel_vectors(y, frames=FRAMES, start=START, stop=STOP, n_mels=N_MELS)


def find_machine_dir(raw: Path) -> Path:
    for cand in [raw / MACHINE, raw / "dev_data" / MACHINE, *sorted(raw.rglob(MACHINE))]:
        if cand.is_dir() and ((cand / "train").is_dir() or (cand / "test").is_dir()):
            return cand
    raise DatasetError(f"no {MACHINE}/train folder under {raw}; re-download toyadmos")


def list_files(machine_dir: Path, additional_train: bool
               ) -> tuple[list[Path], list[tuple[Path, int, int]]]:
    """Train files (sorted) and test (path, label, machine id) in reference order."""
    train = []
    for p in sorted((machine_dir / "train").glob("*.wav")):
        m = _TRAIN.match(p.name)
        if m and (additional_train or int(m.group(1)) <= 4):
            train.append(p)
    by_id: dict[int, dict[str, list[Path]]] = {}
    test_dir = machine_dir / "test"
    for p in sorted(test_dir.glob("*.wav")) if test_dir.is_dir() else []:
        m = _LABELLED.match(p.name)
        if m:
            by_id.setdefault(int(m.group(2)), {"normal": [], "anomaly": []})[m.group(1)].append(p)
    test = []
    for mid in sorted(by_id):
        test += [(p, 0, mid) for p in by_id[mid]["normal"]]
        test += [(p, 1, mid) for p in by_id[mid]["anomaly"]]
    return train, test


class ToyADMOS(DatasetSpec):
    name = "toyadmos"
    task = "anomaly"
    description = ("ToyADMOS ToyCar (DCASE2020 Task 2 dev + additional train), log-mel 128x5 "
                   "vectors")
    licence = "CC BY-NC-SA 4.0 (NTT / Hitachi; non-commercial)"
    input_shape = (N_MELS * FRAMES,)
    num_classes = 0
    default_options = {"val_fraction": 0.1, "additional_train": True}
    choices = {"additional_train": (True, False)}

    def check_options(self, opts: dict[str, Any]) -> None:
        check_number(opts["val_fraction"], "val_fraction", "toyadmos", lo=0.0, hi=0.5)

    def build(self, raw, opts, writer) -> dict:
        mdir = find_machine_dir(raw)
        train, test = list_files(mdir, bool(opts["additional_train"]))
        if not train:
            raise DatasetError(f"no normal_id_*.wav training clips in {mdir / 'train'}; "
                               "re-download toyadmos")
        skipped: list[str] = []
        counts = [n_vectors(_num_samples(p)) for p in train]
        total = sum(counts)
        split_at = int(total * (1.0 - float(opts["val_fraction"])))
        x_tr = writer.new("x_train", (split_at, N_MELS * FRAMES), np.float32)
        x_va = writer.new("x_val", (total - split_at, N_MELS * FRAMES), np.float32)
        pos = 0
        for i, (p, n) in enumerate(zip(train, counts)):
            if n == 0:
                skipped.append(p.name)
                continue
            v = file_vectors(p)
            assert len(v) == n, (p, len(v), n)
            a, b = pos, pos + n
            if a < split_at:
                x_tr[a : min(b, split_at)] = v[: min(b, split_at) - a]
            if b > split_at:
                x_va[max(a, split_at) - split_at : b - split_at] = v[max(a, split_at) - a :]
            pos = b
            if len(train) > 500 and (i + 1) % 500 == 0:
                sys.stderr.write(f"\rtoyadmos: featurised {i + 1}/{len(train)} train clips")
        writer.put("y_train", np.zeros(split_at, np.int64))
        writer.put("y_val", np.zeros(total - split_at, np.int64))

        kept = [(p, lab, mid, n) for (p, lab, mid) in test
                if (n := n_vectors(_num_samples(p))) > 0]
        skipped += [p.name for (p, _, _) in test if p.name not in {k[0].name for k in kept}]
        n_test = sum(k[3] for k in kept)
        x_te = writer.new("x_test", (n_test, N_MELS * FRAMES), np.float32)
        file_idx = np.zeros(n_test, np.int64)
        pos = 0
        for f, (p, _, _, n) in enumerate(kept):
            x_te[pos : pos + n] = file_vectors(p)
            file_idx[pos : pos + n] = f
            pos += n
        file_label = np.asarray([k[1] for k in kept], np.int64)
        writer.put("y_test", file_label[file_idx] if n_test else np.zeros(0, np.int64))
        writer.put("groups_file", file_idx)
        writer.put("groups_file_label", file_label)
        writer.put("groups_machine", np.asarray([k[2] for k in kept], np.int64))
        if len(train) > 500:
            sys.stderr.write("\n")
        return {
            "machine_type": MACHINE,
            "features": "log-mel 128 (n_fft 1024, hop 512, Slaney), frames 50:250, 5-frame "
                        "640-d vectors, dB",
            "test_files": [k[0].name for k in kept],
            "skipped_files": skipped,
            "counts": {"train_files": len(train), "test_files": len(kept),
                       "train_vectors": split_at,
                       "val_vectors": total - split_at, "test_vectors": n_test},
        }


DATASETS.register("toyadmos", ToyADMOS())


def file_scores(vector_errors: np.ndarray, ds: ArrayDataset) -> np.ndarray:
    """Per-file anomaly score = mean of its vectors' errors (reference order)."""
    if ds.test_groups is None:
        raise InvalidParameterError(f"dataset {ds.name!r} has no test_groups; it is not an "
                                    "anomaly dataset")
    err = np.asarray(vector_errors, dtype=np.float64).reshape(-1)
    fidx = np.asarray(ds.test_groups["file"])
    if err.shape[0] != fidx.shape[0]:
        raise InvalidParameterError(
            f"vector_errors has {err.shape[0]} entries, expected one per test vector "
            f"({fidx.shape[0]})"
        )
    if not np.all(np.isfinite(err)):
        raise InvalidParameterError("vector_errors contains NaN or inf")
    nf = len(ds.test_groups["file_label"])
    sums = np.bincount(fidx, weights=err, minlength=nf)
    cnt = np.bincount(fidx, minlength=nf)
    return sums / np.maximum(cnt, 1)


def anomaly_scores_to_metrics(vector_errors: np.ndarray, ds: ArrayDataset) -> dict:
    """{"auc", "pauc", "per_machine": {"id_01": {"auc", "pauc", "files"}, ...}}.

    AUC = ``roc_auc_score``; pAUC = ``roc_auc_score(max_fpr=0.1)`` (McClish-corrected,
    as the DCASE2020 baseline); the overall values are the mean over machine ids. Ids
    whose test files hold only one class are reported with NaN and left out of the mean.
    """
    metrics = require("sklearn.metrics", "torch", "AUC / pAUC of the anomaly task")
    scores = file_scores(vector_errors, ds)
    labels = np.asarray(ds.test_groups["file_label"])
    machine = np.asarray(ds.test_groups["machine"])
    per: dict[str, dict] = {}
    for mid in np.unique(machine):
        sel = machine == mid
        y, s = labels[sel], scores[sel]
        key = f"id_{int(mid):02d}"
        if len(np.unique(y)) < 2:
            per[key] = {"auc": float("nan"), "pauc": float("nan"), "files": int(sel.sum())}
            continue
        per[key] = {
            "auc": float(metrics.roc_auc_score(y, s)),
            "pauc": float(metrics.roc_auc_score(y, s, max_fpr=MAX_FPR)),
            "files": int(sel.sum()),
        }
    ok = [v for v in per.values() if np.isfinite(v["auc"])]
    return {
        "auc": float(np.mean([v["auc"] for v in ok])) if ok else float("nan"),
        "pauc": float(np.mean([v["pauc"] for v in ok])) if ok else float("nan"),
        "per_machine": per,
    }
