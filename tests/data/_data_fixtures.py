"""Synthetic fixtures in the exact on-disk formats of the real archives (spec §1.8, §2.5,
§3.6, §4.5), generated in tmp_path; nothing binary is committed."""

from __future__ import annotations

import hashlib
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from entronas.data import _download
from entronas.data._download import Resource

SR = 16000


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def md5(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def resource_for(path: Path, *, subdir: str = "", use_md5: bool = False, filename=None) -> Resource:
    path = Path(path)
    return Resource(
        url=path.resolve().as_uri(),
        bytes=path.stat().st_size,
        sha256=None if use_md5 else sha256(path),
        md5=md5(path) if use_md5 else None,
        filename=filename,
        subdir=subdir,
    )


def write_wav(path: Path, x: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    wavfile.write(path, SR, np.asarray(x, dtype=np.int16))


def tone(freq: float, n: int = SR, seed: int = 0, amp: float = 8000.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    env = np.sin(np.pi * np.arange(n) / n)
    return (amp * env * np.sin(2 * np.pi * freq * t) + rng.normal(0, 200, n)).astype(np.int16)


def make_tar(src_dir: Path, out: Path, *, top: str | None = None, dot_prefix: bool = False) -> Path:
    """Pack ``src_dir``'s entries at the archive root (optionally './'-prefixed) or under ``top``."""
    with tarfile.open(out, "w:gz") as tf:
        for i, p in enumerate(sorted(src_dir.rglob("*"))):
            rel = p.relative_to(src_dir).as_posix()
            if top:
                arc = f"{top}/{rel}"
            else:
                arc = f"./{rel}" if (dot_prefix and i % 2 == 0) else rel
            tf.add(p, arcname=arc, recursive=False)
    return out


# ------------------------------------------------------------------ Speech Commands
KWS_WORDS = {"yes": 0, "no": 1, "left": 2, "bed": 3, "marvin": 4}
# chosen so the hash split (Hello-Edge) puts speaker 1 in validation and speaker 2 in testing,
# consistent with the list files below (as in the real v0.02 archive)
SPEAKERS = ["0a2b400e", "0a2b400f", "0a2b4021", "0a2b4010", "0a2b4011", "0a2b4012"]


def build_speech_commands(base: Path) -> dict:
    """sc_train/ and sc_test/ trees; returns facts the tests assert on."""
    train, test = base / "sc_train", base / "sc_test"
    files = []
    for word, k in KWS_WORDS.items():
        for j, spk in enumerate(SPEAKERS[:3]):
            x = tone(300 + 150 * k, seed=10 * k + j)
            files.append(f"{word}/{spk}_nohash_{j}.wav")
            write_wav(train / files[-1], x)
    # special clips: short (padding), all-zero (NaN guard), max < |min| (normalisation)
    write_wav(train / "yes" / f"{SPEAKERS[3]}_nohash_0.wav", tone(300, n=12000, seed=99))
    write_wav(train / "no" / f"{SPEAKERS[4]}_nohash_0.wav", np.zeros(SR, np.int16))
    neg = tone(450, seed=98)
    neg = np.where(neg > 0, neg // 4, neg).astype(np.int16)
    write_wav(train / "left" / f"{SPEAKERS[5]}_nohash_0.wav", neg)
    files += [f"yes/{SPEAKERS[3]}_nohash_0.wav", f"no/{SPEAKERS[4]}_nohash_0.wav",
              f"left/{SPEAKERS[5]}_nohash_0.wav"]
    rng = np.random.default_rng(5)
    for name in ("running_tap", "white_noise"):
        write_wav(train / "_background_noise_" / f"{name}.wav", rng.normal(0, 3000, 3 * SR).astype(np.int16))
    val = [f"yes/{SPEAKERS[1]}_nohash_1.wav", f"bed/{SPEAKERS[1]}_nohash_1.wav"]
    tst = [f"no/{SPEAKERS[2]}_nohash_2.wav", f"marvin/{SPEAKERS[2]}_nohash_2.wav"]
    (train / "validation_list.txt").write_text("\n".join(val) + "\n")
    (train / "testing_list.txt").write_text("\n".join(tst) + "\n")
    (train / "LICENSE").write_text("CC BY 4.0\n")
    test_classes = ["down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes", "_silence_", "_unknown_"]
    for i, c in enumerate(test_classes):
        write_wav(test / c / f"{SPEAKERS[0]}_nohash_{i}.wav", tone(250 + 100 * i, seed=200 + i))
    (test / "LICENSE").write_text("CC BY 4.0\n")
    return {"train": train, "test": test, "files": files, "val_list": val, "test_list": tst,
            "n_test": len(test_classes)}


@pytest.fixture
def speech_commands(tmp_path, monkeypatch):
    """Speech Commands fixture packed as tar.gz archives and wired into RESOURCES."""
    facts = build_speech_commands(tmp_path / "src")
    tr = make_tar(facts["train"], tmp_path / "speech_commands_v0.02.tar.gz", dot_prefix=True)
    te = make_tar(facts["test"], tmp_path / "speech_commands_test_set_v0.02.tar.gz")
    monkeypatch.setitem(_download.RESOURCES, "kws", {
        "train": resource_for(tr, subdir="train"), "test": resource_for(te, subdir="test")})
    facts["root"] = tmp_path / "cache"
    return facts


# ------------------------------------------------------------------ CIFAR-10
def cifar_batch(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    labels = [int(v) for v in rng.integers(0, 10, n)]
    imgs = np.zeros((n, 3, 32, 32), np.float64)
    for i, c in enumerate(labels):
        imgs[i] = (c * 25) + rng.normal(0, 5, (3, 32, 32))
        imgs[i, c % 3, :, c::10] = 250
    data = np.clip(imgs, 0, 255).astype(np.uint8).reshape(n, 3072)
    return {b"batch_label": b"batch", b"labels": labels, b"data": data,
            b"filenames": [f"img_{seed}_{i}.png".encode() for i in range(n)]}


@pytest.fixture
def cifar(tmp_path, monkeypatch):
    src = tmp_path / "src" / "cifar-10-batches-py"
    src.mkdir(parents=True)
    n = 20
    batches = {f"data_batch_{i}": cifar_batch(n, i) for i in range(1, 6)}
    batches["test_batch"] = cifar_batch(n, 6)
    for name, d in batches.items():
        with open(src / name, "wb") as f:
            pickle.dump(d, f, protocol=2)
    meta = {b"label_names": [s.encode() for s in ["airplane", "automobile", "bird", "cat", "deer",
                                                  "dog", "frog", "horse", "ship", "truck"]],
            b"num_cases_per_batch": n, b"num_vis": 3072}
    with open(src / "batches.meta", "wb") as f:
        pickle.dump(meta, f, protocol=2)
    (src / "readme.html").write_text("<html></html>")
    arc = make_tar(src.parent, tmp_path / "cifar-10-python.tar.gz")
    from entronas.data import cifar10
    monkeypatch.setitem(_download.RESOURCES, "cifar10", {"python": resource_for(arc, use_md5=True)})
    monkeypatch.setattr(cifar10, "FILE_MD5", {p.name: md5(p) for p in src.iterdir()})
    return {"root": tmp_path / "cache", "batches": batches, "src": src, "archive": arc}


# ------------------------------------------------------------------ ToyCar
def toycar_clip(anomaly: bool, seed: int, n: int = 128000, stereo: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    white = rng.normal(0, 1, n)
    pink = np.cumsum(white)
    pink = pink - np.convolve(pink, np.ones(256) / 256, mode="same")
    t = np.arange(n) / SR
    x = 300 * pink / (np.std(pink) + 1e-9) + 800 * np.sin(2 * np.pi * 200 * t) + 400 * np.sin(2 * np.pi * 400 * t)
    if anomaly:
        x += 6000 * np.sin(2 * np.pi * 3000 * t)
    x = np.clip(x, -32768, 32767).astype(np.int16)
    return np.stack([x, x], 1) if stereo else x


def build_toycar(base: Path) -> dict:
    dev, extra = base / "dev", base / "extra"
    for mid in (1, 2):
        for j in range(3):
            write_wav(dev / "ToyCar" / "train" / f"normal_id_{mid:02d}_{j:08d}.wav", toycar_clip(False, 10 * mid + j))
        for j in range(2):
            write_wav(dev / "ToyCar" / "test" / f"normal_id_{mid:02d}_{j:08d}.wav", toycar_clip(False, 100 * mid + j))
            write_wav(dev / "ToyCar" / "test" / f"anomaly_id_{mid:02d}_{j:08d}.wav", toycar_clip(True, 200 * mid + j))
    # a 2 s clip (fewer than 196 vectors -> here 0, so it is skipped), a stereo clip
    write_wav(dev / "ToyCar" / "train" / "normal_id_02_00000003.wav", toycar_clip(False, 7, n=2 * SR))
    write_wav(dev / "ToyCar" / "train" / "normal_id_02_00000004.wav", toycar_clip(False, 8, stereo=True))
    # eval-style additional train (id 05) and an unlabelled eval test file
    write_wav(extra / "ToyCar" / "train" / "normal_id_05_00000000.wav", toycar_clip(False, 55))
    write_wav(dev / "ToyCar" / "test" / "id_05_00000000.wav", toycar_clip(False, 56))
    return {"dev": dev, "extra": extra}


def make_zip(src_dir: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(src_dir.rglob("*")):
            zf.write(p, p.relative_to(src_dir).as_posix())
    return out


@pytest.fixture
def toycar(tmp_path, monkeypatch):
    facts = build_toycar(tmp_path / "src")
    dz = make_zip(facts["dev"], tmp_path / "dev_data_ToyCar.zip")
    ez = make_zip(facts["extra"], tmp_path / "eval_data_train_ToyCar.zip")
    monkeypatch.setitem(_download.RESOURCES, "toyadmos", {
        "dev": resource_for(dz, use_md5=True, filename="dev_data_ToyCar.zip"),
        "additional_train": resource_for(ez, use_md5=True, filename="eval_data_train_ToyCar.zip")})
    facts["root"] = tmp_path / "cache"
    return facts


# ------------------------------------------------------------------ VWW
def build_vww(base: Path, per_class: int = 10) -> Path:
    from PIL import Image

    top = base / "vw_coco2014_96"
    rng = np.random.default_rng(3)
    for cls in ("person", "non_person"):
        (top / cls).mkdir(parents=True)
        for i in range(per_class):
            split = "train" if i % 2 else "val"
            img = np.full((96, 96, 3), 60, np.uint8) + rng.integers(0, 20, (96, 96, 3)).astype(np.uint8)
            if cls == "person":
                img[10:90, 40:56] = 230
            name = f"COCO_{split}2014_{i * 7 + (1 if cls == 'person' else 2):012d}.jpg"
            Image.fromarray(img).save(top / cls / name, quality=95)
    Image.fromarray(np.full((96, 96), 128, np.uint8), mode="L").save(
        top / "non_person" / "COCO_val2014_000000999999.jpg")
    Image.fromarray(np.full((120, 80, 3), 200, np.uint8)).save(
        top / "person" / "COCO_val2014_000000999998.jpg")
    return top


@pytest.fixture
def vww(tmp_path, monkeypatch):
    pytest.importorskip("PIL")
    top = build_vww(tmp_path / "src")
    arc = make_tar(top.parent, tmp_path / "vw_coco2014_96.tar.gz")
    monkeypatch.setitem(_download.RESOURCES, "vww", {"images": resource_for(arc)})
    return {"root": tmp_path / "cache", "top": top}
