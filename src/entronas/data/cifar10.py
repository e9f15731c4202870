"""``cifar10``: the CIFAR-10 python pickle batches (spec §2).

The batches are Python-2 pickles, so they are read with a restricted unpickler that
can only build numpy arrays/dtypes and latin-1 byte strings: a tampered download can
not run code. Per-file MD5s are checked at featurisation. Normalisation is an option
(``meanstd`` = the ConvMixer recipe, the paper's CIFAR model; ``unit`` = [0, 1] as the
MLPerf PyTorch variant; ``raw`` = 0..255 as the MLPerf Keras reference). The train
augmentation (crop 32 / pad 4 + h-flip) is a torch batch transform, not baked in.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from .._core.errors import DatasetError
from .._core.validation import check_number
from ._base import DATASETS, DatasetSpec, stratified_split
from ._download import RESOURCES, Resource

RESOURCES["cifar10"] = {
    "python": Resource(
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        bytes=170_498_071,
        md5="c58f30108f718f92721af3b95e74349a",
    )
}

# Per-file MD5 of the extracted batches; tests monkeypatch it.
FILE_MD5: dict[str, str] = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}

LABEL_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck"]
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2471, 0.2435, 0.2616)

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        if module.startswith("numpy") and module.endswith("multiarray"):
            mod = importlib.import_module("numpy._core.multiarray" if hasattr(np, "_core")
                                          else "numpy.core.multiarray")
        else:
            mod = importlib.import_module(module)
        return getattr(mod, name)


def restricted_load(data: bytes, source: str = "pickle") -> Any:
    """Unpickle ``data`` allowing only numpy arrays/dtypes and bytes (DatasetError otherwise)."""
    try:
        return _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as exc:  # any unpickling failure is a corrupt/hostile file
        raise DatasetError(f"refusing to load {source}: {type(exc).__name__}: {exc}") from exc


def _find_batches(raw: Path) -> Path:
    hits = sorted(p.parent for p in raw.rglob("data_batch_1"))
    if not hits:
        raise DatasetError(f"no cifar-10-batches-py/data_batch_1 under {raw}; re-download cifar10")
    return hits[0]


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images (N, 3, 32, 32), int64 labels) of one pickle batch, MD5-checked."""
    blob = path.read_bytes()
    want = FILE_MD5.get(path.name)
    if want is not None and hashlib.md5(blob).hexdigest() != want:
        raise DatasetError(f"checksum mismatch for {path}; re-download cifar10")
    d = restricted_load(blob, str(path))
    try:
        data = np.asarray(d[b"data"], dtype=np.uint8)
        labels = np.asarray(d[b"labels"], dtype=np.int64)
        images = data.reshape(-1, 3, 32, 32)
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{path} is not a CIFAR-10 batch ({exc})") from exc
    if len(images) != len(labels) or (labels.size and (labels.min() < 0 or labels.max() > 9)):
        raise DatasetError(f"{path} is not a CIFAR-10 batch (bad labels)")
    return images, labels


class Cifar10(DatasetSpec):
    name = "cifar10"
    task = "classification"
    description = "CIFAR-10 (Krizhevsky 2009), python pickle batches"
    licence = "no licence stated; cite Krizhevsky 2009, do not redistribute"
    input_shape = (3, 32, 32)
    num_classes = 10
    default_options = {"normalize": "meanstd", "augment": True, "val_fraction": 0.0, "seed": 0}
    choices = {"normalize": ("meanstd", "unit", "raw"), "augment": (True, False)}

    def check_options(self, opts: dict[str, Any]) -> None:
        check_number(opts["val_fraction"], "val_fraction", "cifar10", lo=0.0, hi=0.5)
        check_number(opts["seed"], "seed", "cifar10", lo=0, integer=True)

    def train_transform(self, opts: dict[str, Any]) -> str | None:
        return "cifar_crop_flip" if opts["augment"] else None

    def _scale(self, images: np.ndarray, how: str) -> np.ndarray:
        x = images.astype(np.float32)
        if how == "raw":
            return x
        x /= 255.0
        if how == "meanstd":
            x -= np.asarray(MEAN, np.float32)[None, :, None, None]
            x /= np.asarray(STD, np.float32)[None, :, None, None]
        return x

    def build(self, raw, opts, writer) -> dict:
        base = _find_batches(raw)
        parts = [read_batch(base / f"data_batch_{i}") for i in range(1, 6)]
        x_tr = np.concatenate([p[0] for p in parts])
        y_tr = np.concatenate([p[1] for p in parts])
        x_te, y_te = read_batch(base / "test_batch")
        names = LABEL_NAMES
        meta_file = base / "batches.meta"
        if meta_file.exists():
            blob = meta_file.read_bytes()
            want = FILE_MD5.get("batches.meta")
            if want is not None and hashlib.md5(blob).hexdigest() != want:
                raise DatasetError(f"checksum mismatch for {meta_file}; re-download cifar10")
            meta = restricted_load(blob, str(meta_file))
            names = [n.decode() if isinstance(n, bytes) else str(n)
                     for n in meta.get(b"label_names", names)]
        if opts["val_fraction"] > 0:
            tr, va = stratified_split(y_tr, (1 - opts["val_fraction"], opts["val_fraction"]),
                                      int(opts["seed"]))
        else:
            tr, va = np.arange(len(y_tr)), np.zeros(0, np.int64)
        writer.put("x_train", self._scale(x_tr[tr], opts["normalize"]))
        writer.put("y_train", y_tr[tr])
        writer.put("x_val", self._scale(x_tr[va], opts["normalize"]))
        writer.put("y_val", y_tr[va])
        writer.put("x_test", self._scale(x_te, opts["normalize"]))
        writer.put("y_test", y_te)
        return {
            "class_names": names,
            "normalize": {"meanstd": {"mean": MEAN, "std": STD}}.get(opts["normalize"],
                                                                      opts["normalize"]),
            "counts": {"train": len(tr), "val": len(va), "test": len(y_te)},
        }


DATASETS.register("cifar10", Cifar10())
