"""One run record from the CLI to export: resumes, space files, dtypes, other directories,
and a run directory whose journal is damaged or gone."""

from __future__ import annotations

import pytest

from entronas.cli import main
from entronas.runs import RunDir

from .conftest import prepare, write_full_table


def _lines(capsys):
    out = capsys.readouterr()
    return out.out, out.err.strip().splitlines()


@pytest.fixture
def demo_table(tmp_path):
    """A score for every member of the default job's X^f (float32, tflm)."""
    return write_full_table(tmp_path / "demo.csv", prepare(space="mlp-digits"))


def test_a_resume_with_other_settings_is_refused_naming_them(tmp_path, capsys, demo_table):
    run = ["search", "--evaluator", f"table:{demo_table}", "-k", "3", "-q",
           "--run-dir", str(tmp_path / "r")]
    assert main(run) == 0
    capsys.readouterr()
    before = {p: p.read_bytes() for p in (tmp_path / "r").rglob("*") if p.is_file()}
    rc = main(run + ["--epochs", "5"])
    _, err = _lines(capsys)
    assert rc == 2 and len(err) == 1 and "epochs 30 -> 5" in err[0], err
    rc = main(run + ["--dtype", "int8", "--p", "0.3"])
    _, err = _lines(capsys)
    assert rc == 2 and "costs tflm float32" in err[0] and "p 0.5 -> 0.3" in err[0], err
    after = {p: p.read_bytes() for p in (tmp_path / "r").rglob("*") if p.is_file()}
    assert after == before                                     # nothing was touched
    assert main(run[:3] + ["-k", "5"] + run[5:]) == 0             # K may grow


def test_space_file_int8_search_and_export_best_count_alike(tmp_path, capsys, monkeypatch):
    space_file = tmp_path / "my.toml"
    space_file.write_text('[space]\npreset = "mlp-digits"\ndepth = [1, 2]\n'
                          '[target]\nname = "board"\nrom = "24KiB"\nram = "3KiB"\n')
    table = write_full_table(tmp_path / "t.csv",
                             prepare(space=str(space_file), dtype="int8"))
    run = ["search", "--space", str(space_file), "--dtype", "int8", "--evaluator",
           f"table:{table}", "-k", "4", "-q", "--run-dir", str(tmp_path / "r")]
    assert main(run) == 0
    out, _ = _lines(capsys)
    assert "tflm int8" in out and "FITS board" in out
    rd = RunDir(tmp_path / "r")
    rec = rd.read_info().record
    assert rec.space.depth_max == 2 and rec.costs.dtype == "int8" and rec.target.name == "board"
    first = rd.read_resources()
    (rd.best / "resources.json").unlink()
    monkeypatch.chdir("/")
    assert main(["export-best", str(tmp_path / "r")]) == 0      # from another directory
    out, _ = _lines(capsys)
    again = rd.read_resources()
    assert (again["rom"], again["ram"]) == (first["rom"], first["ram"])
    assert again["costs"].startswith("tflm int8") and "FITS board" in out
    assert main(["report", str(tmp_path / "r"), "--out", str(tmp_path / "rep")]) == 0


def test_an_emptied_or_lost_journal_is_refused_not_restarted(tmp_path, capsys, demo_table):
    run = ["search", "--evaluator", f"table:{demo_table}", "-k", "2", "-q",
           "--run-dir", str(tmp_path / "r")]
    assert main(run) == 0
    capsys.readouterr()
    journal = RunDir(tmp_path / "r").journal
    journal.write_bytes(b"")
    rc = main(run)
    _, err = _lines(capsys)
    assert rc == 2 and len(err) == 1 and "has no such study" in err[0], err
    journal.unlink()
    assert main(run) == 2
    assert main(["report", str(tmp_path / "r"), "--out", str(tmp_path / "rep")]) == 2


def test_a_partial_last_journal_record_is_repaired(tmp_path, capsys, demo_table):
    run = ["search", "--evaluator", f"table:{demo_table}", "-q",
           "--run-dir", str(tmp_path / "r")]
    assert main(run + ["-k", "3"]) == 0
    capsys.readouterr()
    journal = RunDir(tmp_path / "r").journal
    data = journal.read_bytes()
    journal.write_bytes(data[:-20])                      # a process died mid-append
    assert main(run + ["-k", "5"]) == 0
    _, err = _lines(capsys)
    assert any("repaired" in line and "partial last record" in line for line in err)
    from entronas.search import load_run

    assert load_run(tmp_path / "r").counts()["trained"] == 5


def test_asking_for_more_than_xf_says_it_is_used_up(tmp_path, capsys):
    table = write_full_table(tmp_path / "t.csv", prepare(space="mlp-example",
                                                         target="paper-small", rom=9000,
                                                         ram="1MiB"))
    rc = main(["search", "--space", "mlp-example", "-t", "paper-small", "--rom", "9000",
               "--ram", "1MiB", "--evaluator", f"table:{table}", "-k", "50", "-q",
               "--run-dir", str(tmp_path / "r")])
    out, _ = _lines(capsys)
    assert rc == 0 and "all of them are trained" in out


def test_search_draws_from_the_file_reduce_wrote(tmp_path, capsys):
    """One candidates artefact: `reduce --out` makes it, `sample` and `search` read it."""
    f = tmp_path / "xf.tree"
    assert main(["reduce", "mlp-digits", "-t", "stm32g071", "--rom", "48KiB", "--ram",
                 "2304B", "--rom-reserve", "0", "--ram-reserve", "0", "-o", str(f)]) == 0
    assert main(["sample", str(f), "-n", "3"]) == 0
    table = write_full_table(tmp_path / "t.csv", prepare(space="mlp-digits"))
    capsys.readouterr()
    run = ["search", "--candidates", str(f), "--evaluator", f"table:{table}", "-k", "3", "-q",
           "--run-dir", str(tmp_path / "r")]
    assert main(run) == 0
    _, err = _lines(capsys)
    assert any("loaded 189 networks" in line for line in err) and \
        not any(line.startswith("reduced") for line in err)
    rec = RunDir(tmp_path / "r").read_info().record
    assert rec.space.name == "mlp-digits" and rec.target.rom == 48 * 1024
    assert rec.costs.describe().startswith("tflm float32")
    rc = main(run + ["--dtype", "int8"])
    _, err = _lines(capsys)
    assert rc == 2 and len(err) == 1 and "drop --dtype" in err[0], err
