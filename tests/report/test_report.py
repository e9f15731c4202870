"""`entronas report` over table-evaluated runs of all three strategies."""

from __future__ import annotations

import csv

import pytest

pytest.importorskip("optuna")
pytest.importorskip("matplotlib")

from entronas.cli import main  # noqa: E402
from entronas.report import Reference, make_report, parse_reference  # noqa: E402



def write_full_table(path, prepared):
    from entronas.search.table import write_table

    rows = []
    for i in range(len(prepared.feasible)):
        w = prepared.widths(i)
        score = 0.5 + 0.4 * (1 - 1 / (1 + sum(w) / 200)) + 0.01 * (w[0] % 3)
        rows.append((w, {"accuracy": round(score, 6), "train_seconds": 1.0 + len(w)}))
    return write_table(path, rows)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, small_prepared_for_report):
    tmp = tmp_path_factory.mktemp("runs")
    table = write_full_table(tmp / "t.csv", small_prepared_for_report)
    dirs = []
    for strategy in ("entropy", "random", "tpe"):
        for seed in (0, 1):
            d = tmp / f"{strategy}-{seed}"
            rc = main(["search", "--space", "mlp-digits", "--rom", "24KiB", "--ram", "2KiB",
                       "--costs", "paper",
                       "--evaluator", f"table:{table}", "--strategy", strategy, "--seed",
                       str(seed), "--trials", "8", "-q", "--run-dir", str(d)])
            assert rc == 0
            dirs.append(d)
    return tmp, dirs


@pytest.fixture(scope="module")
def small_prepared_for_report():
    from tests.search.conftest import PAPER, prepare

    return prepare(space="mlp-digits", target="stm32g071", rom="24KiB", ram="2KiB", **PAPER)


def test_make_report_writes_figures_and_tables(runs):
    tmp, dirs = runs
    rep = make_report(dirs, tmp / "rep", references=[Reference("baseline", 0.8, 20000, 600,
                                                               9000)], title="toy")
    names = {p.name for p in rep["plots"] + rep["tables"]}
    assert {"best_vs_samples.png", "best_vs_samples.svg", "best_vs_time.png",
            "best_vs_time.svg", "report.md", "runs.csv"} <= names
    assert all(p.stat().st_size > 1000 for p in rep["plots"])
    md = (tmp / "rep" / "report.md").read_text()
    for word in ("entropy", "random", "tpe", "baseline", "infeasible proposals", "ROM"):
        assert word in md
    rows = list(csv.DictReader(open(tmp / "rep" / "runs.csv")))
    assert len(rows) == 7
    assert {r["strategy"] for r in rows} == {"entropy", "random", "tpe", "reference"}
    for r in rows[:6]:
        assert int(r["trained"]) == 8 and float(r["best_score"]) > 0.5
        assert int(r["rom"]) <= 24 * 1024


def test_best_after_k_is_monotone(runs):
    from entronas.search import load_run

    for d in runs[1]:
        run = load_run(d)
        curve = run.best_after_k()
        assert len(curve) == 8 and all(a <= b for a, b in zip(curve, curve[1:]))
        xs, ys = run.best_over_time()
        assert ys == curve and all(a < b for a, b in zip(xs, xs[1:]))


def test_mean_curves_never_go_down_when_a_run_ends_early():
    import numpy as np

    from entronas.report.build import _band, _time_band

    short, long = [0.9, 0.95], [0.5, 0.6, 0.7, 0.8]   # the short run used up its X^f
    k, mean, lo, hi = _band([short, long])
    assert list(k) == [1, 2, 3, 4] and np.all(np.diff(mean) >= 0)
    assert mean[-1] == (0.95 + 0.8) / 2 and lo[-1] == 0.8 and hi[-1] == 0.95
    _, mean_t, _, _ = _time_band([([1.0, 2.0], short), ([1.0, 2.0, 3.0, 4.0], long)])
    finite = mean_t[np.isfinite(mean_t)]
    assert np.all(np.diff(finite) >= -1e-12)


def test_plots_name_the_metric_and_split(runs):
    from types import SimpleNamespace as NS

    from entronas.report.build import score_label

    def run(metrics, score):
        return NS(trained=[NS(metrics=metrics, score=score)])

    assert score_label([run({"accuracy": 0.8, "val_accuracy": 0.9}, 0.9)]) == \
        "best validation accuracy so far"
    assert score_label([run({"accuracy": 0.8}, 0.8)]) == "best accuracy so far"
    assert score_label([run({"auc": 0.7}, 0.7)]) == "best AUC (test split) so far"
    assert "validation accuracy" in score_label([run({"accuracy": 0.8, "val_accuracy": 0.9}, 0.9),
                                                 run({"auc": 0.7}, 0.7)])


def test_report_cli_and_export(runs, capsys):
    tmp, dirs = runs
    rc = main(["report", *map(str, dirs), "--out", str(tmp / "cli"), "--reference",
               "MicroNet-S:0.9:100KB:20KB:1000000"])
    assert rc == 0
    assert "best_vs_samples.png" in capsys.readouterr().out
    rc = main(["export-best", str(dirs[0]), "--out", str(tmp / "exp")])
    assert rc == 0 and (tmp / "exp" / "arch.json").exists()
    assert (tmp / "exp" / "resources.json").exists()
    rc = main(["report", str(tmp / "nope")])
    assert rc == 2
    assert "not a run directory" in capsys.readouterr().err


def test_parse_reference():
    r = parse_reference("MicroNet-KWS-S:0.954:102KB:22KB:1500000")
    assert r.name == "MicroNet-KWS-S" and r.rom == 102_000 and r.flops == 1_500_000
    with pytest.raises(Exception, match="NAME:SCORE"):
        parse_reference("nonsense")
