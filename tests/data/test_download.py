"""Download plumbing: file:// end to end, checksum / truncation / corruption / traversal,
resume, and the one-line missing-dataset message."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from entronas._core.errors import DatasetError, InvalidParameterError, UnknownNameError
from entronas.data import dataset_info, default_root, download_dataset, get_dataset, list_datasets
from entronas.data._download import Resource, extract, fetch, install

from _data_fixtures import make_tar, resource_for, sha256


def _tiny_tar(tmp_path):
    src = tmp_path / "payload"
    (src / "a").mkdir(parents=True)
    (src / "a" / "x.txt").write_text("hello" * 1000)
    (src / "b.txt").write_text("world")
    return make_tar(src, tmp_path / "tiny.tar.gz")


def _leftovers(path):
    return sorted(p.name for p in path.rglob("*") if ".part" in p.name or "staging" in p.name or ".tmp" in p.name)


def test_fetch_verifies_and_renames_atomically(tmp_path):
    arc = _tiny_tar(tmp_path)
    out = fetch(resource_for(arc), tmp_path / "dl", progress=False)
    assert out.read_bytes() == arc.read_bytes()
    assert not list((tmp_path / "dl").glob("*.part"))
    # second call re-verifies the present file instead of downloading
    arc.unlink()
    assert fetch(resource_for(out), tmp_path / "dl", progress=False) == out


def test_checksum_mismatch_leaves_nothing(tmp_path):
    arc = _tiny_tar(tmp_path)
    bad = Resource(arc.resolve().as_uri(), arc.stat().st_size, sha256="0" * 64)
    with pytest.raises(DatasetError, match="checksum mismatch") as ei:
        fetch(bad, tmp_path / "dl", progress=False)
    assert "\n" not in str(ei.value)
    assert list((tmp_path / "dl").iterdir()) == []


def test_md5_mismatch(tmp_path):
    arc = _tiny_tar(tmp_path)
    bad = Resource(arc.resolve().as_uri(), arc.stat().st_size, md5="0" * 32)
    with pytest.raises(DatasetError, match="md5"):
        fetch(bad, tmp_path / "dl", progress=False)


def test_truncated_download_is_rejected(tmp_path):
    arc = _tiny_tar(tmp_path)
    res = resource_for(arc)
    arc.write_bytes(arc.read_bytes()[: arc.stat().st_size // 2])  # server sends a short body
    with pytest.raises(DatasetError, match="truncated"):
        fetch(res, tmp_path / "dl", progress=False)
    assert list((tmp_path / "dl").iterdir()) == []


def test_a_right_hash_decides_over_a_stale_size(tmp_path):
    arc = _tiny_tar(tmp_path)
    res = Resource(arc.resolve().as_uri(), arc.stat().st_size + 7, sha256=sha256(arc))
    out = fetch(res, tmp_path / "dl", progress=False)  # the table's size is off, not the file
    assert sha256(out) == sha256(arc)
    assert fetch(res, tmp_path / "dl", progress=False) == out  # kept, not deleted, on re-check
    no_hash = Resource(arc.resolve().as_uri(), arc.stat().st_size + 7)
    with pytest.raises(DatasetError, match="truncated"):   # without a hash the size decides
        fetch(no_hash, tmp_path / "dl2", progress=False)


def test_stale_part_file_is_restarted(tmp_path):
    arc = _tiny_tar(tmp_path)
    dl = tmp_path / "dl"
    dl.mkdir()
    (dl / (arc.name + ".part")).write_bytes(b"garbage")
    out = fetch(resource_for(arc), dl, progress=False)  # file:// ignores Range -> full restart
    assert sha256(out) == sha256(arc)


def test_network_failure_message(tmp_path):
    res = Resource((tmp_path / "missing.tar.gz").as_uri(), 10, sha256="0" * 64)
    with pytest.raises(DatasetError, match="could not download"):
        fetch(res, tmp_path / "dl", progress=False)


def test_corrupt_archive_with_matching_hash_cleans_up(tmp_path):
    arc = tmp_path / "broken.tar.gz"
    good = _tiny_tar(tmp_path).read_bytes()
    arc.write_bytes(good[: len(good) // 2])  # truncated archive, table hash made to match
    ds_dir = tmp_path / "cache" / "x"
    with pytest.raises(DatasetError, match="corrupt or truncated") as ei:
        install("x", {"a": resource_for(arc)}, ds_dir, progress=False)
    assert "\n" not in str(ei.value)
    assert not (ds_dir / "raw").exists() and not (ds_dir / ".complete").exists()
    assert _leftovers(ds_dir) == [] and not list((ds_dir / "downloads").iterdir())


def test_tar_path_traversal_refused(tmp_path):
    arc = tmp_path / "evil.tar.gz"
    with tarfile.open(arc, "w:gz") as tf:
        data = b"pwned"
        info = tarfile.TarInfo("../../evil.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    ds_dir = tmp_path / "cache" / "x"
    with pytest.raises(DatasetError, match="unsafe|refusing"):
        install("x", {"a": resource_for(arc)}, ds_dir, progress=False)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "cache" / "evil.txt").exists()
    assert not (ds_dir / "raw").exists() and _leftovers(ds_dir) == []


@pytest.mark.parametrize("name", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt"])
def test_zip_path_traversal_refused(tmp_path, name):
    arc = tmp_path / "evil.zip"
    with zipfile.ZipFile(arc, "w") as zf:
        zf.writestr("ok.txt", "fine")
        zf.writestr(name, "pwned")
    with pytest.raises(DatasetError, match="unsafe"):
        extract(arc, tmp_path / "out" / "stage")
    assert not (tmp_path / "out" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()


def test_install_is_idempotent_and_marks_complete(tmp_path):
    arc = _tiny_tar(tmp_path)
    ds_dir = tmp_path / "cache" / "x"
    raw = install("x", {"a": resource_for(arc, subdir="sub")}, ds_dir, progress=False)
    assert (raw / "sub" / "a" / "x.txt").read_text() == "hello" * 1000
    assert (ds_dir / ".complete").is_file() and "sha256" in (ds_dir / ".complete").read_text()
    assert not (ds_dir / "downloads").exists()  # archives dropped after install
    arc.unlink()
    assert install("x", {"a": resource_for(raw / "sub" / "b.txt")}, ds_dir, progress=False) == raw


def test_progress_goes_to_stderr(tmp_path, capsys):
    arc = _tiny_tar(tmp_path)
    fetch(resource_for(arc), tmp_path / "dl", progress=True)
    cap = capsys.readouterr()
    assert cap.out == "" and "tiny.tar.gz" in cap.err


@pytest.mark.parametrize("name", ["kws", "cifar10", "toyadmos", "vww"])
def test_missing_dataset_one_line(tmp_path, name):
    with pytest.raises(DatasetError) as ei:
        get_dataset(name, root=tmp_path)
    msg = str(ei.value)
    assert "\n" not in msg
    assert str(tmp_path / name) in msg
    assert f"entronas download {name}" in msg
    assert "GB" in msg or "MB" in msg
    assert "licence" in msg
    if name == "toyadmos":
        assert "CC BY-NC-SA 4.0" in msg
    assert not (tmp_path / name).exists()  # looking does not create anything


def test_registry_and_info():
    assert list_datasets() == ["cifar10", "digits", "kws", "toyadmos", "vww"]
    with pytest.raises(UnknownNameError, match="did you mean 'kws'"):
        get_dataset("kwss")
    info = dataset_info("kws")
    assert info["bytes"] == 2_428_923_189 + 112_563_277
    assert info["sha256"]["train"] == "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58"
    assert info["download_command"] == "entronas download kws"
    assert info["default_options"]["split"] == "hello-edge"
    assert dataset_info("toyadmos")["md5"]["dev"] == "4dec75ca8d9f666aa9e4c1894a740501"
    assert dataset_info("cifar10")["bytes"] == 170_498_071
    assert dataset_info("digits")["download_command"] is None


def test_bad_options():
    with pytest.raises(InvalidParameterError, match="unknown option"):
        get_dataset("digits", colour=True)
    with pytest.raises(InvalidParameterError, match="split"):
        get_dataset("kws", split="tfds")


def test_default_root(monkeypatch, tmp_path):
    monkeypatch.setenv("ENTRONAS_DATA", str(tmp_path))
    assert default_root() == tmp_path
    monkeypatch.delenv("ENTRONAS_DATA")
    assert default_root().parts[-3:] == (".cache", "entronas", "datasets")


def test_download_dataset_builtin_is_noop(tmp_path):
    assert download_dataset("digits", root=tmp_path) == tmp_path / "digits"
    assert not (tmp_path / "digits").exists()
