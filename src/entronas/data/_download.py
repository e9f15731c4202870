"""Fetch, verify and unpack dataset archives.

Why this shape:
- every URL/size/hash lives in one table (``RESOURCES``) so tests can point it at
  ``file://`` fixtures and a maintainer can fix a moved URL in one place;
- downloads stream to ``<file>.part`` and are renamed only after the size and hash
  match, so a crash or Ctrl-C never leaves a file that looks complete; an interrupted
  ``.part`` is resumed with an HTTP Range request when the server honours it;
- extraction goes to a staging folder that is renamed into place, and a ``.complete``
  marker (holding the hashes) is written last: its presence is the only thing that
  says "this dataset is usable";
- tar members go through ``filter="data"`` and zip members through an explicit
  path-traversal / symlink check, because archives come from the network.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import sys
import tarfile
import time
import urllib.error
import urllib.request
import uuid
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from .._core.fileio import atomic_write
from .._core.errors import DatasetError

__all__ = ["Resource", "RESOURCES", "fetch", "extract", "install", "MARKER", "read_marker"]

MARKER = ".complete"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Resource:
    """One downloadable archive.

    ``bytes``/``sha256``/``md5`` may be None when unknown; at least one hash should be
    given for real data. ``subdir`` is where the archive is unpacked inside the
    dataset's ``raw/`` folder (several archives can share one).
    """

    url: str
    bytes: int | None
    sha256: str | None = None
    md5: str | None = None
    filename: str | None = None
    subdir: str = ""
    mirrors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        if self.filename:
            return self.filename
        tail = self.url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        return tail or "download"

    def describe(self) -> dict:
        d = asdict(self)
        d["mirrors"] = list(self.mirrors)
        return d


# dataset name -> resource key -> Resource. Filled by the dataset modules at import;
# tests monkeypatch entries to point at local fixtures.
RESOURCES: dict[str, dict[str, Resource]] = {}


def human_bytes(n: int | None) -> str:
    if n is None:
        return "unknown size"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return f"{n} B"  # pragma: no cover


def _hashes(path: Path) -> tuple[str, str]:
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest()


def _verify(path: Path, res: Resource) -> None:
    """Raise DatasetError (one line) unless the file is the one in the table.

    A known hash decides: a right hash with another size than the table's keeps the file (the
    table's size was stale). The size decides only where no hash is known.
    """
    size = path.stat().st_size
    wrong_size = res.bytes is not None and size != res.bytes
    what = "truncated" if wrong_size and size < (res.bytes or 0) else "too large"
    if res.sha256 is None and res.md5 is None:
        if wrong_size:
            raise DatasetError(
                f"download of {res.name} is {what}: {size} bytes, expected {res.bytes}; "
                "it was removed, retry the download")
        return
    sha, md5 = _hashes(path)
    bad = [f"{name} {got}, expected {want}" for name, got, want in
           (("sha256", sha, res.sha256), ("md5", md5, res.md5))
           if want is not None and got != want.lower()]
    if not bad:
        return
    size_note = f" ({what}: {size} bytes, expected {res.bytes})" if wrong_size else ""
    raise DatasetError(f"checksum mismatch for {res.name}{size_note}: {bad[0]}; it was "
                       "removed, retry the download")


class _Progress:
    """A throttled one-line progress meter on stderr."""

    def __init__(self, label: str, total: int | None, enabled: bool) -> None:
        self.label, self.total, self.enabled = label, total, enabled
        self._last = 0.0

    def __call__(self, done: int, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not final and now - self._last < 0.5:
            return
        self._last = now
        pct = f" ({100.0 * done / self.total:5.1f} %)" if self.total else ""
        tot = f"/{human_bytes(self.total)}" if self.total else ""
        sys.stderr.write(f"\r{self.label}: {human_bytes(done)}{tot}{pct}")
        if final:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _stream(url: str, part: Path, res: Resource, progress: bool) -> None:
    """Append/overwrite ``part`` with the body at ``url``, resuming when possible."""
    have = part.stat().st_size if part.exists() else 0
    if res.bytes is not None and have > res.bytes:
        have = 0
    req = urllib.request.Request(url, headers={"User-Agent": "entronas"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    with urllib.request.urlopen(req, timeout=60) as resp:
        status = getattr(resp, "status", None)
        resumed = bool(have) and status == 206
        mode = "ab" if resumed else "wb"
        done = have if resumed else 0
        meter = _Progress(f"downloading {res.name}", res.bytes, progress)
        with open(part, mode) as out:
            while chunk := resp.read(_CHUNK):
                out.write(chunk)
                done += len(chunk)
                meter(done)
            out.flush()
            os.fsync(out.fileno())
        meter(done, final=True)


def fetch(res: Resource, dest_dir: str | os.PathLike, *, progress: bool = True) -> Path:
    """Download ``res`` into ``dest_dir`` (verified, atomic); return the final path.

    An already present final file is re-verified instead of downloaded again. A network
    failure keeps the ``.part`` file for resuming; a size/hash failure deletes it.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / res.name
    part = dest_dir / (res.name + ".part")
    if final.exists():
        try:
            _verify(final, res)
            return final
        except DatasetError:
            final.unlink()
    errors = []
    for url in (res.url, *res.mirrors):
        try:
            _stream(url, part, res, progress)
            break
        except (urllib.error.URLError, OSError, ValueError) as exc:
            errors.append(f"{url}: {exc}")
    else:
        raise DatasetError(
            f"could not download {res.name} ({'; '.join(errors)}); partial data kept in "
            f"{part} and resumed on the next try"
        )
    try:
        _verify(part, res)
    except DatasetError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, final)
    return final


def _safe_zip_target(dest: Path, info: zipfile.ZipInfo) -> Path | None:
    name = info.filename.replace("\\", "/")
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
        raise DatasetError(f"unsafe path {info.filename!r} in zip archive; refusing to extract")
    mode = (info.external_attr >> 16) & 0xFFFF
    if stat.S_ISLNK(mode):
        raise DatasetError(f"symlink {info.filename!r} in zip archive; refusing to extract")
    target = (dest / Path(*p.parts)).resolve() if p.parts else dest
    if target != dest and dest not in target.parents:
        raise DatasetError(f"unsafe path {info.filename!r} in zip archive; refusing to extract")
    return target


def extract(archive: str | os.PathLike, dest: str | os.PathLike) -> None:
    """Unpack a .tar(.gz/.bz2/.xz) or .zip into ``dest`` safely.

    Raises DatasetError (one line) for a corrupt/truncated archive or an unsafe member.
    The caller is responsible for cleaning ``dest`` up on failure (it is a staging dir).
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    target = _safe_zip_target(dest, info)
                    if info.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out, _CHUNK)
        else:
            with tarfile.open(archive, "r:*") as tf:
                tf.extractall(dest, filter="data")
    except DatasetError:
        raise
    except tarfile.FilterError as exc:
        raise DatasetError(f"unsafe member in {archive.name}: {exc}; refusing to extract") from exc
    except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise DatasetError(
            f"archive {archive.name} is corrupt or truncated ({type(exc).__name__}: {exc}); "
            "it was removed, retry the download"
        ) from exc


def read_marker(ds_dir: Path) -> dict | None:
    """The parsed ``.complete`` marker of a dataset folder, or None if not installed."""
    p = Path(ds_dir) / MARKER
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None


def install(
    name: str,
    resources: dict[str, Resource],
    ds_dir: str | os.PathLike,
    *,
    progress: bool = True,
    keep_archives: bool = False,
) -> Path:
    """Download + verify + extract all ``resources`` into ``ds_dir/raw``; return it.

    Idempotent: returns at once when the ``.complete`` marker exists. Archives are
    deleted after a successful install unless ``keep_archives`` (they are as large as
    the data). On any failure nothing but verified archives / resumable ``.part``
    files is left behind.
    """
    ds_dir = Path(ds_dir)
    raw = ds_dir / "raw"
    if read_marker(ds_dir) is not None and raw.is_dir():
        return raw
    downloads = ds_dir / "downloads"
    archives = {key: fetch(res, downloads, progress=progress) for key, res in resources.items()}
    staging = ds_dir / f".raw.staging-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        for key, res in resources.items():
            if progress:
                sys.stderr.write(f"extracting {res.name}\n")
            try:
                extract(archives[key], staging / res.subdir if res.subdir else staging)
            except DatasetError:
                archives[key].unlink(missing_ok=True)
                raise
        if raw.exists():
            shutil.rmtree(raw)
        os.replace(staging, raw)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    marker = {
        "dataset": name,
        "resources": {k: r.describe() for k, r in resources.items()},
        "installed": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    atomic_write(ds_dir / MARKER, json.dumps(marker, indent=1, sort_keys=True))
    if not keep_archives:
        for path in archives.values():
            path.unlink(missing_ok=True)
        try:
            downloads.rmdir()
        except OSError:
            pass
    return raw
