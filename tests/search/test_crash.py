"""A search killed with -9 at exact points, then the same command again: every rerun ends with
exactly K trained, no finished trial lost or retrained, nothing left RUNNING or WAITING, and no
file of another run touched.

Each point is a function of entronas, wrapped so that its n-th call kills the process before it
runs (the ``entronas.<module>:<name>`` spelling patches the name where it is looked up)."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys

import pytest

from entronas.search import load_run

from .conftest import SRC, write_full_table
from .test_run import CLI_SMALL, _env

KILL_AT = """
import importlib, os, signal, sys
sys.path.insert(0, {src!r})
target, nth = sys.argv[1], int(sys.argv[2])
module_name, attr = target.split(":")
owner = importlib.import_module(module_name)
*path, name = attr.split(".")
for part in path:
    owner = getattr(owner, part)
original, calls = getattr(owner, name), [0]
def killer(*args, **kwargs):
    calls[0] += 1
    if calls[0] == nth:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(*args, **kwargs)
setattr(owner, name, killer)
from entronas.cli import main
sys.exit(main(sys.argv[3:]))
"""

#: (where, n-th call): the moments a search can die at
POINTS = [
    ("entronas.search.pipeline:reduce_space", 1),                       # during the reduction
    ("entronas.sampling.candidates:Candidates.save", 1),                # writing the X^f cache
    ("entronas.runs.rundir:RunDir.write_info", 1),                      # writing run.json
    ("entronas.search.adapters.samplers:_FeasibleSetSampler.before_trial", 3),  # new trial
    ("entronas.search.adapters.objective:Objective.__call__", 3),       # before any write
    ("entronas.search.adapters.objective:claim_candidate", 3),          # index written
    ("entronas.search.table:TableEvaluator.__call__", 3),               # during a trial
    ("entronas.search.pipeline:recover_interrupted", 4),                # a trial just told
    ("entronas.search.pipeline:export_trial", 1),                       # writing best/
    ("entronas._core.fileio:os.replace", 2),                            # inside an atomic write
]


def _digest(path):
    return {p.relative_to(path): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("where, nth", POINTS, ids=[f"{w.split(':')[1]}#{n}" for w, n in POINTS])
def test_killed_at_any_point_the_rerun_ends_with_exactly_k(tmp_path, small_prepared, where, nth):
    table = write_full_table(tmp_path / "t.csv", small_prepared)
    other = tmp_path / "other-run"          # another run next to this one: never touched
    args = ["search", *CLI_SMALL, "--evaluator", f"table:{table}", "--trials", "6", "-q"]
    main = [sys.executable, "-m", "entronas"]
    done = subprocess.run(main + args + ["--run-dir", str(other)], env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    before_other = _digest(other)

    script = tmp_path / "kill_at.py"
    script.write_text(KILL_AT.format(src=str(SRC)))
    run = args + ["--run-dir", str(tmp_path / "run")]
    first = subprocess.run([sys.executable, str(script), where, str(nth), *run], env=_env(),
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == -signal.SIGKILL, first.stderr[-800:]
    kept = {}
    if (tmp_path / "run" / "study.journal").exists():
        try:
            kept = {t.number: t.score for t in load_run(tmp_path / "run").trained}
        except Exception:  # the kill came before the study or run.json existed
            kept = {}
    again = subprocess.run(main + run, env=_env(), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-800:]
    after = load_run(tmp_path / "run")
    trained = after.trained
    assert len(trained) == 6                                      # exactly K
    assert len({t.widths for t in trained}) == 6                  # 0 retrained
    assert {t.number: t.score for t in trained if t.number in kept} == kept   # 0 lost
    assert not [t for t in after.trials if t.state in ("RUNNING", "WAITING")]
    assert (tmp_path / "run" / "best" / "arch.json").is_file()
    assert _digest(other) == before_other                         # another run: untouched
