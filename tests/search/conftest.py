"""Shared fixtures: small reduced spaces and stand-in evaluators (no torch)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("optuna")

HERE = Path(__file__).parent
SRC = HERE.parent.parent / "src"


def toy_score(widths) -> float:
    """Deterministic stand-in accuracy: wider/deeper is better, with a wiggle."""
    return round(0.5 + 0.4 * (1 - 1 / (1 + sum(widths) / 200)) + 0.01 * (widths[0] % 3), 6)


def stand_in(arch, seed):
    return {"score": toy_score(arch.widths), "train_seconds": 0.5 + 0.01 * len(arch.widths)}


@dataclass
class Prepared:
    """A resolved run record and its candidates (what the pipeline prepares), for tests."""

    record: object
    candidates: object
    key: str

    @property
    def space(self):
        return self.record.space

    @property
    def feasible(self):
        return self.candidates.feasible

    @property
    def clusters(self):
        return self.candidates.clusters

    def widths(self, i):
        return self.candidates.widths(i)

    def index_of(self, arch):
        return self.candidates.index_of(arch)

    def describe(self, arch):
        from entronas.search.adapters.objective import describe

        return describe(self.record, self.candidates, arch)

    def sampler(self, cls, **kw):
        return cls(self.candidates, key=self.key, **kw)

    def objective(self, evaluate):
        from entronas.search.adapters.objective import Objective

        return Objective(self.record, self.candidates, evaluate)


def prepare(**settings):
    """Resolve SearchConfig settings and build their candidates as the pipeline does."""
    from entronas.reduce import reduce_space
    from entronas.sampling import Candidates
    from entronas.search import SearchConfig
    from entronas.search.pipeline import candidates_key

    record = SearchConfig(**settings).resolve()
    feasible, _ = reduce_space(record.space, record.target, record.costs)
    c = record.candidates
    cands = Candidates.build(feasible, n_clusters=c.n_clusters, output=c.output, pool=c.pool)
    return Prepared(record, cands, candidates_key(record))


PAPER = dict(costs="paper", rom_reserve=0, ram_reserve=0)


@pytest.fixture(scope="session")
def small_prepared():
    """mlp-digits under 24 KiB ROM / 2 KiB RAM (paper convention): 693 of 4,368 networks."""
    return prepare(space="mlp-digits", target="stm32g071", rom="24KiB", ram="2KiB", **PAPER)


@pytest.fixture(scope="session")
def tiny_prepared():
    """mlp-example under a tight ROM budget: a handful of networks (exhaustion tests)."""
    return prepare(space="mlp-example", target="paper-small", rom=9000, ram="1MiB",
                   n_clusters=4)


@pytest.fixture(scope="session")
def big_prepared():
    """mlp-digits under 48 KiB / 8 KiB: 2,098 networks in 5 clusters (Eq. 7 frequency tests)."""
    return prepare(space="mlp-digits", target="stm32g071", rom="48KiB", ram="8KiB",
                   n_clusters=5, **PAPER)


def write_full_table(path, prepared, *, drop=()):
    """A table with a synthetic score for every member of X^f (minus ``drop``)."""
    from entronas.search.table import write_table

    rows = []
    for i in range(len(prepared.feasible)):
        w = prepared.widths(i)
        if w in drop:
            continue
        rows.append((w, {"accuracy": toy_score(w), "params": sum(w),
                         "train_seconds": 1.0 + len(w)}))
    return write_table(path, rows)


SLOW_SCRIPT = """
import sys, time
sys.path.insert(0, {src!r})
from entronas.search import table
_orig = table.TableEvaluator.__call__
def slow(self, arch, seed=0):
    time.sleep({delay})
    return _orig(self, arch, seed)
table.TableEvaluator.__call__ = slow
from entronas.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def slow_cli(tmp_path):
    """A script that runs `entronas ...` with a table evaluator that sleeps per candidate."""
    def make(delay: float) -> list[str]:
        script = tmp_path / f"slow_entronas_{int(delay * 1000)}.py"
        script.write_text(SLOW_SCRIPT.format(src=str(SRC), delay=delay))
        return [sys.executable, str(script)]

    return make


def postgres_url() -> str:
    """A PostgreSQL server for the distributed tests (``.ci/postgres`` starts one and sets
    ENTRONAS_TEST_POSTGRES); skipped, with the reason printed, where there is none."""
    url = os.environ.get("ENTRONAS_TEST_POSTGRES")
    if not url:
        pytest.skip("no PostgreSQL server: ENTRONAS_TEST_POSTGRES is not set (.ci/run starts "
                    "one with .ci/postgres)")
    pytest.importorskip("psycopg", reason="the PostgreSQL driver: pip install "
                        "'entronas[postgres]'")
    return url
