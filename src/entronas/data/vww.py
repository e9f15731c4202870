"""``vww``: Visual Wake Words as the MLPerf Tiny reference uses it (spec §4): the SiLabs
96x96 archive ``vw_coco2014_96/{non_person,person}/*.jpg``.

Split (MLPerf ``flow_from_directory(validation_split=0.1)``): per class, the first 10 %
of the *sorted* file list is held out; that held-out part is where the reference
accuracies are measured, so it is ``x_test`` here. ``val_fraction`` optionally takes a
further per-class slice (the next files in sorted order) out of training for model
selection (default 0: training = the reference's 90 %). Classes alphabetical:
non_person = 0, person = 1. Pixels RGB / 255 in [0, 1]; images that are not 96x96 are
resized with nearest-neighbour (Keras ``load_img`` default). The ~11 GB float32 result
is written straight to a memory-mapped cache file. Decoding needs Pillow.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from .._core.errors import DatasetError
from .._core.imports import require
from .._core.validation import check_number
from ._base import DATASETS, DatasetSpec
from ._download import RESOURCES, Resource

RESOURCES["vww"] = {
    "images": Resource(
        url="https://www.silabs.com/public/files/github/machine_learning/benchmarks/datasets/vw_coco2014_96.tar.gz",
        bytes=234_810_765,
        sha256="f8746b9e44f8a7a4293f73be9ba6e8da9239fe69798d42364aae62b915cfab58",
    )
}

CLASSES = ("non_person", "person")
SIZE = 96
_EXTS = {".jpg", ".jpeg", ".png", ".bmp"}


def find_root(raw: Path) -> Path:
    """The folder holding ``person/`` and ``non_person/`` (normally vw_coco2014_96)."""
    for cand in [raw, *sorted(p for p in raw.rglob("*") if p.is_dir())]:
        if all((cand / c).is_dir() for c in CLASSES):
            return cand
    raise DatasetError(f"no person/ and non_person/ folders under {raw}; re-download vww")


def list_split(root: Path, val_fraction: float) -> dict[str, list[tuple[Path, int]]]:
    """Sorted per-class files -> {"test": first 10 %, "val": next val_fraction, "train": rest}."""
    out: dict[str, list[tuple[Path, int]]] = {"train": [], "val": [], "test": []}
    for label, cls in enumerate(CLASSES):
        files = sorted(p for p in (root / cls).iterdir() if p.suffix.lower() in _EXTS)
        n = len(files)
        n_test, n_val = int(0.1 * n), int(val_fraction * n)
        out["test"] += [(p, label) for p in files[:n_test]]
        out["val"] += [(p, label) for p in files[n_test : n_test + n_val]]
        out["train"] += [(p, label) for p in files[n_test + n_val :]]
    return out


def load_image(path: Path) -> np.ndarray:
    """uint8 (3, 96, 96) RGB of one image file (grayscale/palette converted to RGB)."""
    Image = require("PIL.Image", "torch", "decoding VWW JPEGs (pip install pillow)")
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if im.size != (SIZE, SIZE):
                im = im.resize((SIZE, SIZE), Image.NEAREST)
            arr = np.asarray(im, dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot decode image {path}: {exc}") from exc
    return arr.transpose(2, 0, 1)


class VWW(DatasetSpec):
    name = "vww"
    task = "classification"
    description = "Visual Wake Words 96x96 (SiLabs/MLPerf Tiny archive, COCO 2014 derived)"
    licence = ("COCO images under their Flickr licences, annotations CC BY 4.0; archive has no "
               "stated licence, do not redistribute")
    input_shape = (3, SIZE, SIZE)
    num_classes = 2
    default_options = {"val_fraction": 0.0, "augment": True}
    choices = {"augment": (True, False)}

    def check_options(self, opts: dict[str, Any]) -> None:
        check_number(opts["val_fraction"], "val_fraction", "vww", lo=0.0, hi=0.5)

    def train_transform(self, opts: dict[str, Any]) -> str | None:
        return "vww_affine" if opts["augment"] else None

    def build(self, raw, opts, writer) -> dict:
        root = find_root(raw)
        splits = list_split(root, float(opts["val_fraction"]))
        total = sum(len(v) for v in splits.values())
        done = 0
        for split, items in splits.items():
            x = writer.new(f"x_{split}", (len(items), 3, SIZE, SIZE), np.float32)
            for i, (path, _) in enumerate(items):
                x[i] = load_image(path).astype(np.float32) / np.float32(255.0)
                done += 1
                if total > 5000 and done % 5000 == 0:
                    sys.stderr.write(f"\rvww: decoded {done}/{total} images")
            writer.put(f"y_{split}", np.asarray([lab for _, lab in items], dtype=np.int64))
        if total > 5000:
            sys.stderr.write("\n")
        return {
            "class_names": list(CLASSES),
            "counts": {k: len(v) for k, v in splits.items()},
            "split_rule": "per class, sorted files: first 10% test, next val_fraction val, "
                          "rest train",
        }


DATASETS.register("vww", VWW())
