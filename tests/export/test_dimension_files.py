"""A space file of named dimensions, from the command line only (issue 9): the 7-dimension
inverted-residual file reduces as deployed, samples, searches with the table evaluator and
exports; the exported best network fits in TFLite Micro as measured, within the estimate."""

from __future__ import annotations

import csv
import json
import math
from importlib.resources import files

import pytest

pytest.importorskip("optuna")
pytest.importorskip("tflite_micro")

from entronas.cli import main  # noqa: E402
from entronas.reduce.tree import FeasibleTree  # noqa: E402

BUDGET = ["--rom", "64KiB", "--ram", "32KiB", "--dtype", "int8"]


def test_ir7_file_reduces_samples_searches_and_exports(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    space_file = tmp_path / "ir7.toml"
    space_file.write_text((files("entronas.space") / "files" / "ir7-cifar10.toml").read_text())
    assert main(["reduce", str(space_file), *BUDGET, "-o", "ir7.tree"]) == 0
    assert "5,726" in capsys.readouterr().out
    assert main(["sample", "ir7.tree", "-n", "3", "--seed", "0"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()[-3:]
    tree = FeasibleTree.load("ir7.tree")
    assert all(tuple(int(w) for w in r.split()[-1].split(",")) in
               {a.widths for a in tree} for r in rows)
    with open("t.csv", "w", newline="") as fh:   # a made-up table over X^f
        w = csv.writer(fh)
        w.writerow(["widths", "accuracy"])
        for a in tree:
            w.writerow(["-".join(map(str, a.widths)),
                        round(0.5 + 0.05 * math.log(sum(a.widths[:6])) + 0.01 * a.widths[6],
                              6)])
    assert main(["search", "--candidates", "ir7.tree", "--evaluator", "table:t.csv", "-k", "4",
                 "--run-dir", "run", "-q"]) == 0
    out = capsys.readouterr().out
    assert "trained:  4/4  (infeasible proposals: 0)" in out
    best = json.loads((tmp_path / "run" / "best" / "arch.json").read_text())
    assert best["space"] == "ir7-cifar10" and tuple(best["widths"]) in {a.widths for a in tree}
    assert main(["export", "run", "--format", "tflite-int8", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    measured, est = rep["measured"], rep["estimate"]
    assert rep["fits"] is True
    assert measured["flatbuffer"] <= est["rom_tflm"] and measured["min_arena"] <= est["ram_tflm"]
    assert set(rep["ops"]) >= {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "FULLY_CONNECTED"}
