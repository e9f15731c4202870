"""The run record, arch records and the run directory's files."""

from __future__ import annotations

import json
import os

import pytest

from entronas import EntronasError
from entronas.cost import costs
from entronas.runs import ArchRecord, RunDir, RunRecord
from entronas.space import get_space
from entronas.targets import get_target


def _record(**kw) -> RunRecord:
    pytest.importorskip("optuna")
    from entronas.search import SearchConfig

    settings = dict(space="mlp-digits", evaluator="table:t.csv", trials=5)
    settings.update(kw)
    return SearchConfig(**settings).resolve()


def test_record_round_trips_and_names_what_differs() -> None:
    a = _record()
    assert RunRecord.from_dict(json.loads(json.dumps(a.to_dict()))) == a
    assert a.costs.convention == "tflm" and a.target.name == "stm32g071"  # the default job
    b = _record(epochs=5, strategy="random", dtype="int8", trials=9)
    diff = b.differences(a)
    assert "epochs 5 -> 30" in diff and "strategy random -> entropy" in diff
    assert any(d.startswith("costs tflm int8") for d in diff)
    assert not any(d.startswith("trials") for d in diff)  # K may grow on a resume
    assert a.differences(_record(trials=50)) == []


def test_a_damaged_record_is_one_line() -> None:
    with pytest.raises(EntronasError, match="not a valid entronas run record") as exc:
        RunRecord.from_dict({"version": 1, "space": {}})
    assert "\n" not in str(exc.value)


def test_arch_records_carry_their_convention_and_target(tmp_path) -> None:
    space = get_space("dscnn-kws")
    rec = ArchRecord(space, (84, 112, 84, 84, 84, 196), dataset="kws",
                     costs=costs("tflm", "int8"), target=get_target("stm32f412"),
                     metrics={"accuracy": 0.9, "nan": float("nan")}, trial=3, score=0.9)
    rec.write(tmp_path / "a.json")
    back = ArchRecord.read(tmp_path / "a.json")
    assert back.costs == rec.costs and back.target == rec.target and back.dataset == "kws"
    assert back.metrics["nan"] is None  # strict JSON
    (tmp_path / "h.json").write_text('{"space": "mlp-example", "widths": [16, 32]}')
    hand = ArchRecord.read(tmp_path / "h.json")
    assert hand.costs is None and hand.widths == (16, 32)


def test_run_dir_locations_work_from_any_directory(tmp_path, monkeypatch) -> None:
    rd = RunDir(tmp_path / "run")
    stored = rd.storage_for(None)
    assert stored == "journal:study.journal"                    # stored relative to the dir
    monkeypatch.chdir(tmp_path)
    relative = RunDir("run").storage_url(stored)
    os.chdir("/")
    assert relative == f"journal:{(tmp_path / 'run' / 'study.journal').resolve()}"
    assert rd.storage_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_best_never_pairs_an_arch_with_another_networks_weights(tmp_path) -> None:
    rd = RunDir(tmp_path)
    space = get_space("mlp-example")
    (rd.trial(1)).mkdir(parents=True)
    (rd.trial(1) / "model.pt").write_bytes(b"weights of trial 1")
    (rd.trial(1) / "junk.bin").write_bytes(b"not copied")
    rd.write_best(ArchRecord(space, (16, 32), trial=1), {"rom": 1})
    assert (rd.best / "model.pt").read_bytes() == b"weights of trial 1"
    assert not (rd.best / "junk.bin").exists()
    rd.write_best(ArchRecord(space, (32, 16), trial=2), {"rom": 2})  # trial 2 saved none
    assert not (rd.best / "model.pt").exists()
    assert rd.read_best().widths == (32, 16) and rd.read_best().state_dict is None


def test_a_changed_block_is_named_by_its_key_not_the_whole_list(tmp_path) -> None:
    """A space file's backbone is a list of tables: a resume refusal names the entry and key
    that differ ("space options blocks[2] expansion 4 -> 3"), not the whole list twice."""
    body = """[space]
name = "mine"
depth = [2, 4]
widths = [8, 16, 32]
input_shape = [3, 32, 32]
num_classes = 10
[[space.blocks]]
block = "conv"
stride = 2
[[space.blocks]]
block = "invres"
expansion = {t}
repeat = 2
[[space.blocks]]
block = "basic"
stride = 2
"""
    for d, t in (("a", 4), ("b", 3)):
        (tmp_path / d).mkdir()
        (tmp_path / d / "mine.toml").write_text(body.format(t=t))
    a = _record(space=str(tmp_path / "a" / "mine.toml"), target="stm32f746")
    b = _record(space=str(tmp_path / "b" / "mine.toml"), target="stm32f746")
    assert b.differences(a) == ["space options blocks[2] expansion 3 -> 4"]
    assert a.differences(a) == []
