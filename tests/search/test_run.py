"""Search runs end to end: resume, errors, tabular evaluation, crash recovery (several workers:
test_workers.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import optuna
import pytest

from entronas.cli import main
from entronas.search import SearchConfig, TableEvaluator, load_run, run_search
from entronas import EntronasError
from entronas.runs import RunDir
from entronas.search.errors import StudyMismatchError
from entronas.search.table import TableError

from .conftest import SRC, stand_in, write_full_table

optuna.logging.set_verbosity(optuna.logging.WARNING)
SMALL = dict(space="mlp-digits", target="stm32g071", rom="24KiB", ram="2KiB", costs="paper",
             rom_reserve=0, ram_reserve=0)
#: the same budgets on the command line (the default job's STM32G071 share, paper counting)
CLI_SMALL = ["--space", "mlp-digits", "--rom", "24KiB", "--ram", "2KiB", "--costs", "paper"]


def _cfg(tmp_path, **kw):
    return SearchConfig(**{**SMALL, "run_dir": str(tmp_path / "run"), "trials": 6, **kw})


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.parametrize("strategy", ["entropy", "random", "tpe"])
def test_run_records_and_resumes(tmp_path, strategy):
    calls = []

    def ev(arch, seed):
        calls.append(arch)
        return stand_in(arch, seed)

    r = run_search(_cfg(tmp_path, strategy=strategy), ev, progress=False, log=lambda m: None)
    assert r.completed == 6 and len(calls) == 6
    t = r.best
    for key in ("widths", "rom", "ram", "flops", "entropy", "cluster", "seed", "metrics",
                "train_seconds", "index"):
        assert key in t.user_attrs
    assert (tmp_path / "run" / "best" / "arch.json").exists()
    res = json.loads((tmp_path / "run" / "best" / "resources.json").read_text())
    assert res["fits"] and res["rom"] <= 24 * 1024
    # same command again: nothing retrained; larger K: only the difference is trained
    r2 = run_search(_cfg(tmp_path, strategy=strategy), ev, progress=False, log=lambda m: None)
    assert len(calls) == 6 and r2.completed == 6
    r3 = run_search(_cfg(tmp_path, strategy=strategy, trials=9), ev, progress=False,
                    log=lambda m: None)
    assert len(calls) == 9 and r3.completed == 9
    run = load_run(tmp_path / "run")
    assert run.counts()["trained"] == 9 and run.strategy == strategy
    if strategy != "tpe":
        assert run.infeasible == 0 and run.duplicates == 0


def test_cache_is_reused(tmp_path):
    run_search(_cfg(tmp_path, trials=1), stand_in, progress=False, log=lambda m: None)
    caches = list((tmp_path / "run" / "cache").iterdir())
    assert len(caches) == 1 and RunDir(tmp_path / "run").candidates(caches[0].name).exists()
    logs = []
    run_search(_cfg(tmp_path, trials=2), stand_in, progress=False, log=logs.append)
    assert not any(m.startswith("reduced") for m in logs)   # loaded, not recomputed


def _rc_err(argv, capsys):
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    return rc, err


def test_bad_input_gives_one_line_errors(tmp_path, capsys, small_prepared):
    base = ["search", *CLI_SMALL,
            "--evaluator", f"table:{write_full_table(tmp_path / 't.csv', small_prepared)}",
            "--trials", "3", "-q"]
    run = ["--run-dir", str(tmp_path / "r"), "--study", "s1"]
    assert main(base + run) == 0
    journal = (tmp_path / "r" / "study.journal").read_bytes()
    run_json = (tmp_path / "r" / "run.json").read_text()
    capsys.readouterr()

    rc, err = _rc_err(base + run + ["--strategy", "entropie"], capsys)
    assert rc == 2 and len(err) == 1 and "unknown strategy 'entropie'" in err[0]
    assert "did you mean 'entropy'" in err[0]

    for url in ("sqlite:////nonexistent-dir/x/y.db", "postgresql://u@127.0.0.1:1/db",
                "notaurl"):
        fresh = ["--run-dir", str(tmp_path / "fresh"), "--study", "s1"]
        rc, err = _rc_err(base + fresh + ["--storage", url], capsys)
        assert rc == 2 and len(err) == 1 and "cannot open storage" in err[0], err
        assert not (tmp_path / "fresh").exists()  # a bad URL leaves nothing behind
        rc, err = _rc_err(base + run + ["--storage", url], capsys)
        assert rc == 2 and len(err) == 1 and "keeps its study in" in err[0], err

    # same study, other budget / other space: the existing study is untouched
    rc, err = _rc_err(base + ["--rom", "32KiB"] + run + ["--trials", "5"], capsys)
    assert rc == 2 and len(err) == 1 and "rom 24 KiB -> 32 KiB" in err[0], err
    rc, err = _rc_err(["search", "--space", "dscnn-digits", "--rom", "64KiB", "--ram",
                       "16KiB", "--trials", "5", "-q", "--evaluator", base[10]] + run, capsys)
    assert rc == 2 and len(err) == 1 and "space mlp-digits -> dscnn-digits" in err[0], err
    assert (tmp_path / "r" / "study.journal").read_bytes() == journal
    assert (tmp_path / "r" / "run.json").read_text() == run_json

    rc, err = _rc_err(base[:10] + ["table:/nonexistent.csv"] + base[11:] + run, capsys)
    assert rc == 2 and len(err) == 1 and "does not exist" in err[0]


def test_study_mismatch_api(tmp_path):
    run_search(_cfg(tmp_path, trials=1, study="x"), stand_in, progress=False,
               log=lambda m: None)
    with pytest.raises(StudyMismatchError):
        run_search(_cfg(tmp_path, trials=2, study="x", strategy="random"), stand_in,
                   progress=False, log=lambda m: None)
    with pytest.raises(EntronasError, match="unknown strategy 'bohb'"):
        run_search(_cfg(tmp_path, strategy="bohb"), stand_in, progress=False)


def test_table_evaluator(tmp_path, small_prepared, capsys):
    path = write_full_table(tmp_path / "t.csv", small_prepared)
    ev = TableEvaluator(path)
    assert len(ev) == len(small_prepared.feasible)
    w = small_prepared.widths(3)
    from entronas import Arch

    assert ev(Arch("mlp-digits", w), 0)["params"] == sum(w)
    # width_i columns work too
    (tmp_path / "w.csv").write_text("width_0,width_1,score\n8,16,0.7\n24,,0.6\n")
    ev2 = TableEvaluator(tmp_path / "w.csv")
    assert ev2(Arch("x", (24,)))["score"] == 0.6 and ev2(Arch("x", (8, 16)))["score"] == 0.7
    with pytest.raises(TableError, match="not in table"):
        ev2(Arch("x", (8,)))
    assert TableEvaluator(tmp_path / "w.csv", missing="skip")(Arch("x", (8,))) is None
    (tmp_path / "bad.csv").write_text("arch,acc\n1,2\n")
    with pytest.raises(TableError, match="needs a 'widths'"):
        TableEvaluator(tmp_path / "bad.csv")

    # through the CLI, all three strategies, with a table missing some architectures
    drop = {small_prepared.widths(i) for i in range(0, len(small_prepared.feasible), 2)}
    part = write_full_table(tmp_path / "part.csv", small_prepared, drop=drop)
    rc = main(["search", *CLI_SMALL,
               "--evaluator", f"table:{part}", "--table-missing", "skip", "--trials", "10",
               "-q", "--run-dir", str(tmp_path / "skip")])
    assert rc == 0
    run = load_run(tmp_path / "skip")
    assert run.counts()["trained"] == 10
    assert all(t.state == "PRUNED" for t in run.trials if t.status == "missing")
    rc = main(["search", *CLI_SMALL,
               "--evaluator", f"table:{part}", "--trials", "30", "-q", "--run-dir",
               str(tmp_path / "strict")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and "is not in table" in err[-1]


def _wait_for_complete(journal_dir: Path, n: int, proc, timeout: float = 60) -> int:
    from entronas.search.results import load_run as lr

    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            break
        try:
            k = lr(journal_dir).counts()["trained"]
        except Exception:
            k = 0
        if k >= n:
            return k
        time.sleep(0.1)
    raise AssertionError(f"the search did not reach {n} trained trials in time")


def test_kill_9_and_rerun_resumes(tmp_path, small_prepared, slow_cli):
    table = write_full_table(tmp_path / "t.csv", small_prepared)
    cmd = slow_cli(0.4) + ["search", *CLI_SMALL, "--evaluator", f"table:{table}",
                           "--trials", "6",
                           "--run-dir", str(tmp_path / "run"), "-q"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for_complete(tmp_path / "run", 2, proc)
        time.sleep(0.15)                       # well inside the next 0.4 s evaluation
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = load_run(tmp_path / "run")
    done_before = {t.number: t.score for t in before.trained}
    running = [t.number for t in before.trials if t.state == "RUNNING"]
    assert len(running) == 1 and len(done_before) >= 2

    out = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "interrupted; re-enqueued" in out.stderr
    after = load_run(tmp_path / "run")
    assert len(after.trained) == 6
    assert {t.number: t.score for t in after.trained if t.number in done_before} == done_before
    killed = [t for t in after.trials if t.number == running[0]][0]
    assert killed.state == "FAIL"
    retry = [t for t in after.trials if t.retry_of == running[0]]
    assert len(retry) == 1 and retry[0].state == "COMPLETE" and retry[0].widths == killed.widths
    assert after.duplicates == 0
    assert not [t for t in after.trials if t.state == "RUNNING"]


def test_default_search_end_to_end(tmp_path, capsys):
    pytest.importorskip("torch", reason="entronas.train needs torch for the default evaluator")
    try:
        import entronas.data  # noqa: F401
        from entronas.train import make_evaluator  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"entronas.train / entronas.data not importable yet: {exc}")
    t0 = time.time()
    rc = main(["search", "--trials", "3", "--epochs", "3", "--run-dir", str(tmp_path / "d")])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "best:" in out.out and "accuracy" in out.out and "report:" in out.out
    best = tmp_path / "d" / "best"
    assert (best / "arch.json").exists() and (best / "resources.json").exists()
    assert (best / "model.pt").exists()
    assert (tmp_path / "d" / "report" / "best_vs_samples.png").exists()
    run = load_run(tmp_path / "d")
    assert run.counts()["trained"] == 3 and run.space == "mlp-digits"
    assert time.time() - t0 < 120


def test_search_measure_puts_measured_deployment_next_to_estimates(tmp_path, capsys):
    """The default job end to end: the best network's file and TFLM arena are measured and
    fit the budgets, printed next to the estimate the reduction used."""
    pytest.importorskip("torch")
    pytest.importorskip("tflite_micro", reason="needs the 'export' extra")

    rc = main(["search", "--trials", "2", "--epochs", "2", "--run-dir", str(tmp_path / "d"),
               "--measure", "-q"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    dep = RunDir(tmp_path / "d").read_deployment()
    m, e = dep["measured"], dep["estimate"]
    assert dep["dtype"] == "float32" and dep["trained"] is True
    assert m["head"] == e["ram_tflm_plan"]          # our replay of TFLM's greedy planner
    assert m["head"] >= e["ram_op_graph"]           # the live-tensor peak is a lower bound
    assert m["flatbuffer"] <= dep["tflm_estimate"]["rom"] <= 1.03 * m["flatbuffer"]
    assert m["min_arena"] <= dep["tflm_estimate"]["ram"]
    assert dep["fits"] is True and m["flatbuffer"] <= 48 * 1024 and m["min_arena"] <= 2304
    assert "deploy float32" in out.out and "measured: ROM" in out.out and "FITS" in out.out
    md = (tmp_path / "d" / "report" / "report.md").read_text()
    assert ".tflite (measured)" in md and "tflm float32" in md
    # export of the run's best: int8 calibrated on the run's data, accuracy against float32
    rc = main(["export", str(tmp_path / "d"), "--format", "tflite-int8", "--out",
               str(tmp_path / "x"), "--no-bisect"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "digits test split" in out.out and "accuracy_int8" in out.out
    assert "digits training samples" in out.out
    assert list((tmp_path / "x").glob("*.tflite")) and list((tmp_path / "x").glob("*.c"))


def test_target_flag_uses_the_targets_own_budgets(tmp_path, capsys):
    rc = main(["search", "--space", "dscnn-digits", "-t", "stm32g071", "--evaluator",
               f"table:{_digits_table(tmp_path)}", "--table-missing", "skip", "--trials", "1",
               "--run-dir", str(tmp_path / "r"), "-q"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    t = RunDir(tmp_path / "r").read_info().record.target
    assert t.rom == 128 * 1024 and t.ram == 36 * 1024 and t.rom_reserve == 48 * 1024


def _digits_table(tmp_path):
    from entronas.reduce import reduce_space
    from entronas.space import get_space
    from entronas.targets import get_target

    tree, _ = reduce_space(get_space("dscnn-digits"), get_target("stm32g071"))
    path = tmp_path / "table.csv"
    rows = ["widths,accuracy"] + [f"{a.key()},{0.5 + len(a.widths) / 100}" for a in tree]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[2] / "experiments")
                                        .glob("*.yaml")), ids=lambda p: p.stem)
def test_experiment_configs_are_valid(path):
    from entronas.report import parse_reference
    from entronas.search.config import load_config

    data = load_config(path)
    cfg = SearchConfig.from_dict(data)
    record = cfg.resolve()
    assert set(data["strategies"]) == {"entropy", "random", "tpe"} and len(data["seeds"]) == 5
    assert cfg.n_clusters == 100 and cfg.p == 0.5
    if record.target.name.startswith("paper-"):  # the paper's experiments count as the paper
        assert record.costs.convention == "paper"
    for ref in cfg.references:
        parse_reference(ref)


def test_config_flags_override_config(tmp_path, small_prepared):
    table = write_full_table(tmp_path / "t.csv", small_prepared)
    (tmp_path / "c.yaml").write_text(
        f"space: mlp-digits\nrom: 24KiB\nram: 2KiB\nevaluator: 'table:{table}'\ntrials: 4\n"
        "strategy: random\ncosts: paper\n")
    rc = main(["search", "--config", str(tmp_path / "c.yaml"), "--trials", "3", "-q",
               "--run-dir", str(tmp_path / "r")])
    assert rc == 0
    run = load_run(tmp_path / "r")
    assert run.strategy == "random" and run.counts()["trained"] == 3
    assert run.target["rom"] == 24 * 1024 and run.target["ram"] == 2048


@pytest.mark.parametrize("mode", ["reuse", "retrain"])
def test_tpe_repeat_proposals_reuse_or_retrain(tmp_path, mode):
    from entronas.search import SearchConfig, load_run, run_search

    calls = []

    def ev(arch, seed):
        calls.append(arch.widths)
        return {"score": sum(arch.widths) / 1000.0, "train_seconds": 0.0}

    cfg = SearchConfig(space="mlp-example", target="paper-small", rom="10240B", ram="448B",
                       strategy="tpe", trials=12, run_dir=str(tmp_path / mode), duplicates=mode,
                       dataset="none", evaluator="train")
    run_search(cfg, ev, progress=False, log=lambda m: None)
    run = load_run(tmp_path / mode)
    widths = [t.widths for t in run.trained]
    counts = run.counts()
    if mode == "reuse":
        assert len(set(widths)) == len(widths) == len(calls) == 12  # every sample distinct
        assert counts["duplicates"] == 0 and counts["duplicate_proposals"] > 0
    else:
        assert len(widths) == 12 and counts["duplicate_proposals"] == 0
        assert counts["duplicates"] == len(widths) - len(set(widths)) > 0


def test_other_settings_in_the_same_run_dir_are_refused(tmp_path, capsys):
    """Default study names differ by settings; one run dir must not mix two studies."""
    run = ["--run-dir", str(tmp_path / "r"), "--evaluator", f"table:{_digits_table(tmp_path)}",
           "--space", "dscnn-digits", "-t", "stm32g071", "--table-missing", "skip", "-q"]
    assert main(["search", "--trials", "2", *run]) == 0
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in (tmp_path / "r").rglob("*") if p.is_file()}
    for extra, named in ((["--strategy", "random"], "strategy"), (["--rom", "64KiB"], "rom")):
        rc = main(["search", "--trials", "2", *run, *extra])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and "other settings" in err[0], err
        assert named in err[0].split("other settings")[1], err   # the setting is named
    after = {p.name: p.read_bytes() for p in (tmp_path / "r").rglob("*") if p.is_file()}
    assert after == before


def test_unwritable_output_is_one_line_before_training(tmp_path, capsys):
    pytest.importorskip("torch")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc = main(["train", "mlp-digits", "--arch", "16", "--epochs", "1", "--out",
               str(blocker / "out")])
    out = capsys.readouterr()
    assert rc == 2 and len(out.err.strip().splitlines()) == 1 and "Not a directory" in out.err
    assert "accuracy" not in out.out  # refused before any training


def test_resume_removes_the_temp_files_killed_writes_left(tmp_path):
    """A ``.NAME.*.part`` older than an hour is a dead writer's; a fresh one may be another
    worker's write in progress and stays."""
    run_search(_cfg(tmp_path), stand_in, progress=False, log=lambda m: None)
    run = tmp_path / "run"
    stale = [run / ".run.json.abc.part", run / "trials" / "0" / ".model.pt.xyz.part"]
    fresh = run / "best" / ".arch.json.new.part"
    for f in (*stale, fresh):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"half")
    old = time.time() - 2 * 3600
    for f in stale:
        os.utime(f, (old, old))
    keep = (run / "run.json").read_bytes()
    run_search(_cfg(tmp_path), stand_in, progress=False, log=lambda m: None)
    assert not any(f.exists() for f in stale) and fresh.exists()
    assert (run / "run.json").read_bytes() == keep
