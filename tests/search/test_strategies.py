"""The strategies beyond the paper's: greedy and the model-based one that stays in X^f, TPE's
width encoding, and the strategy benchmark on a generated table."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from entronas.cli import main
from entronas.search.adapters import STRATEGIES
from entronas.search.adapters.samplers import GreedySampler, SurrogateSampler

from .conftest import stand_in

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _widths(study):
    return [tuple(t.user_attrs["widths"]) for t in study.trials
            if t.state == optuna.trial.TrialState.COMPLETE]


def test_greedy_takes_the_most_macs_first(small_prepared):
    study = optuna.create_study(direction="maximize",
                                sampler=small_prepared.sampler(GreedySampler))
    study.optimize(small_prepared.objective(stand_in), n_trials=15)
    macs = [t.user_attrs["flops"] for t in study.trials]
    assert macs == sorted(macs, reverse=True)
    assert macs[0] == max(small_prepared.describe(small_prepared.space.arch(
        small_prepared.widths(i)))["flops"] for i in range(len(small_prepared.feasible)))


def test_bo_starts_greedy_then_learns_from_scores(small_prepared):
    """Default bo: trial 0 is greedy's first pick; then the linear surrogate follows the
    scores, here an objective that prefers the *smallest* networks (the opposite of greedy)."""
    c = small_prepared.candidates
    macs = c.costs()["macs"]

    def small_is_good(arch, seed):
        return {"score": -float(sum(arch.widths)), "train_seconds": 0.0}

    study = optuna.create_study(direction="maximize",
                                sampler=small_prepared.sampler(SurrogateSampler, seed=0))
    study.optimize(small_prepared.objective(small_is_good), n_trials=8)
    got = _widths(study)
    assert got[0] == c.widths(c.index_at(int(np.argmax(macs))))
    sums = sorted(sum(c.widths(c.index_at(i))) for i in range(c.n_candidates))
    assert min(sum(w) for w in got) <= sums[len(sums) // 20]  # within the best 5 %
    entropy_start = small_prepared.sampler(SurrogateSampler, seed=0, start="entropy")
    study = optuna.create_study(direction="maximize", sampler=entropy_start)
    study.optimize(small_prepared.objective(small_is_good), n_trials=1)
    assert _widths(study)[0] != got[0]


def test_bo_lin_finds_a_best_width_inside_the_grid(monkeypatch):
    """lin's per-layer curvature terms: on a two-layer toy set whose score peaks at middle widths
    (log2 width 4 of 2..7 in both layers), bo proposes the peak once it fits every feature; a
    model linear in the log widths can only point at a corner of the grid."""
    from entronas.sampling import surrogate
    from entronas.sampling.surrogate import SurrogatePolicy

    lw = np.array([(a, b) for a in range(2, 8) for b in range(2, 8)], float)
    depth = np.full(len(lw), 2.0)
    costs = lw.sum(1)
    features = np.column_stack([depth, lw, costs, costs, costs])
    score = -((lw - 4.0) ** 2).sum(1)
    peak = int(np.argmax(score))

    def run(curvature: bool) -> int:
        monkeypatch.setattr(surrogate, "LIN_WIDTH_CURVATURE", curvature)
        pol = SurrogatePolicy(features, np.zeros(len(lw), int), macs=costs, log_widths=lw,
                              seed=0)
        # the tried networks: the grid's border (20 > LIN_ALL_FEATURES_AFTER), not the peak
        tried = [i for i, (a, b) in enumerate(lw) if {a, b} & {2.0, 7.0}]
        return pol.suggest(np.random.default_rng(0), set(tried),
                           [(i, float(score[i])) for i in tried])

    assert run(True) == peak
    assert run(False) != peak



def test_bo_lin_posterior_and_ei_are_sklearn_and_scipy_bit_for_bit():
    """lin computes BayesianRidge's posterior and the normal EI itself (their input checks were
    a third of bo's per-trial overhead): the numbers must be the libraries' exactly, or a tie
    in the acquisition could break differently than the library code would."""
    pytest.importorskip("sklearn")
    from scipy.stats import norm
    from sklearn.linear_model import BayesianRidge

    from entronas.sampling.surrogate import _expected_improvement, _ridge_posterior

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 9)) * rng.uniform(0.1, 10, 9) + rng.normal(size=9)
    tried = rng.choice(len(x), 60, replace=False)
    model = BayesianRidge().fit(x[tried], x[tried] @ rng.normal(size=9) + rng.normal(size=60))
    buffers = (np.full_like(x, np.nan), np.full_like(x, np.nan))   # reused scratch, dirty
    strided = np.asfortranarray(x)   # the summary features are a strided array
    for points, scratch in ((x, None), (x, buffers), (x, buffers), (strided, buffers)):
        ref_mean, ref_std = model.predict(points, return_std=True)
        mean, std = _ridge_posterior(model, points, scratch)
        assert np.array_equal(mean, ref_mean) and np.array_equal(std, ref_std)
    best = float(mean[tried].max())
    s = np.maximum(std, 1e-12)
    z = (mean - best) / s
    assert np.array_equal(_expected_improvement(mean, std, best),
                          (mean - best) * norm.cdf(z) + s * norm.pdf(z))

def test_bo_settings_are_checked_before_any_work():
    from entronas.search.config import SearchConfig
    from entronas.search.errors import SearchError

    for bad in ({"model": "svm"}, {"startup": "largest"}):
        with pytest.raises(SearchError, match=next(iter(bad))):
            SearchConfig.from_dict({"strategy": "bo", **bad}).resolve()


@pytest.mark.parametrize("model", ["lin", "tpe", "rf", "gp"])
def test_bo_proposes_only_untried_members_of_xf_and_is_seeded(small_prepared, model):
    def run(seed):
        s = small_prepared.sampler(SurrogateSampler, seed=seed, model=model, n_startup=4)
        study = optuna.create_study(direction="maximize", sampler=s)
        study.optimize(small_prepared.objective(stand_in), n_trials=14)
        return study

    a = run(3)
    got = _widths(a)
    assert len(got) == 14 and len(set(got)) == 14                        # 0 repeats
    assert all(t.user_attrs["status"] == "trained" for t in a.trials)    # 0 infeasible
    assert all(small_prepared.index_of(small_prepared.space.arch(w)) is not None for w in got)
    assert got == _widths(run(3))                                         # reproducible
    assert got != _widths(run(4))


def test_bo_workers_share_one_storage_without_repeats(small_prepared):
    storage = optuna.storages.InMemoryStorage()
    studies = [optuna.create_study(direction="maximize", storage=storage, study_name="s",
                                   load_if_exists=True,
                                   sampler=small_prepared.sampler(SurrogateSampler, seed=w,
                                                                  n_startup=3))
               for w in range(2)]
    for step in range(10):  # two workers taking turns on one study
        studies[step % 2].optimize(small_prepared.objective(stand_in), n_trials=1)
    got = _widths(studies[0])
    assert len(got) == 10 and len(set(got)) == 10


@pytest.mark.parametrize("encoding, kind", [("categorical", "CategoricalDistribution"),
                                            ("int", "IntDistribution")])
def test_tpe_width_encoding_is_an_explicit_option(small_prepared, encoding, kind):
    from entronas.runs import Component

    from dataclasses import replace

    record = replace(small_prepared.record, strategy=Component("tpe", {"encoding": encoding}))
    from entronas.search.adapters.objective import Objective

    sampler = STRATEGIES.get("tpe").make(small_prepared.candidates, {}, "", 0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(Objective(record, small_prepared.candidates, stand_in), n_trials=8)
    assert type(study.trials[0].distributions["width_0"]).__name__ == kind


def test_bench_strategies_on_a_generated_table(tmp_path, small_prepared, capsys):
    from entronas.search.table import write_table

    rng = np.random.default_rng(0)
    rows = []
    for i in range(len(small_prepared.feasible)):
        w = small_prepared.widths(i)
        base = 0.5 + 0.4 * (1 - 1 / (1 + sum(w) / 200))
        seeds = [base + rng.normal(0, 0.01) for _ in range(3)]
        rows.append((w, {"accuracy": float(np.mean(seeds)),
                         **{f"accuracy_s{s}": seeds[s] for s in range(3)}}))
    table = write_table(tmp_path / "t.csv", rows)
    optimum = max(m["accuracy"] for _, m in rows)
    rc = main(["bench-strategies", str(table), "--space", "mlp-digits", "-t", "stm32g071",
               "--rom", "24KiB", "--ram", "2KiB", "--rom-reserve", "0", "--ram-reserve", "0",
               "--costs", "paper", "--reps", "3", "-k", "12", "--out", str(tmp_path / "b"),
               "--strategies", "entropy,random,greedy,bo:n_startup=3,model=tpe", "--json"])
    out = capsys.readouterr().out
    assert rc == 0
    import json

    data = json.loads(out)
    assert data["feasible"] == len(small_prepared.feasible)
    assert data["optimum"] == pytest.approx(optimum)
    assert {r["strategy"] for r in data["rows"]} == {"entropy", "random", "greedy",
                                                     "bo:n_startup=3,model=tpe"}
    assert all(r["regret"] >= -1e-12 for r in data["rows"])
    assert (tmp_path / "b" / "strategies.png").exists()
    md = (tmp_path / "b" / "summary.md").read_text()
    assert "| greedy |" in md and "k = 10" in md
    curves = (tmp_path / "b" / "curves.csv").read_text().splitlines()
    assert len(curves) == 1 + 4 * 12
    # a table that lacks members of X^f is refused in one line
    write_table(tmp_path / "part.csv", rows[:10])
    rc = main(["bench-strategies", str(tmp_path / "part.csv"), "--space", "mlp-digits",
               "-t", "stm32g071", "--rom", "24KiB", "--ram", "2KiB", "--rom-reserve", "0",
               "--ram-reserve", "0", "--costs", "paper", "--reps", "1", "-k", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "lacks" in err[0]


def test_int_encoding_on_an_uneven_grid_is_refused_before_any_work(tmp_path, capsys):
    """16, 32, 64, 128 is no lo..hi/step range: one line naming the grid and the fix."""
    space = tmp_path / "deep.toml"
    space.write_text('[space]\npreset = "mlp-digits"\nname = "mlp-geo"\ndepth = [1, 2]\n'
                     'widths = [16, 32, 64, 128]\n')
    rc = main(["search", "--space", str(space), "--rom", "1MiB", "--ram", "1MiB",
               "--strategy", "tpe", "--encoding", "int", "-k", "2", "--run-dir",
               str(tmp_path / "run"), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert "[16, 32, 64, 128]" in err[0] and "--encoding categorical" in err[0]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("strategy", ["entropy", "greedy", "bo", "tpe"])
def test_every_strategy_searches_a_space_with_an_uneven_grid(tmp_path, capsys, strategy):
    """Geometric widths (16, 32, 64, 128): the feasible-set samplers hand out values through
    categorical distributions (an int range with a step cannot hold them)."""
    space = tmp_path / "geo.toml"
    space.write_text('[space]\npreset = "mlp-digits"\nname = "mlp-geo"\ndepth = [1, 2]\n'
                     'widths = [16, 32, 64, 128]\n')
    from entronas.reduce import reduce_space
    from entronas.search.config import SearchConfig
    from entronas.search.table import write_table

    rec = SearchConfig.from_dict({"space": str(space), "rom": "1MiB", "ram": "1MiB"}).resolve()
    tree, _ = reduce_space(rec.space, rec.target, rec.costs)
    write_table(tmp_path / "t.csv", [(a.widths, {"accuracy": sum(a.widths) / 1e3})
                                     for a in tree])
    rc = main(["search", "--space", str(space), "--rom", "1MiB", "--ram", "1MiB",
               "--strategy", strategy, "-k", "4", "--evaluator", f"table:{tmp_path / 't.csv'}",
               "--run-dir", str(tmp_path / "run"), "-q", "--json"])
    out = capsys.readouterr()
    import json

    assert rc == 0, out.err[-600:]
    assert json.loads(out.out)["completed"] == 4


@pytest.mark.parametrize("argv, needle", [(["--p", "1.5"], "--p 0.5"),
                                          (["--strategy", "bo", "--n-startup", "0"],
                                           "--n-startup N")])
def test_strategy_settings_are_checked_before_the_reduction(tmp_path, capsys, argv, needle):
    rc = main(["search", *argv, "-k", "2", "-q", "--run-dir", str(tmp_path / "run")])
    out = capsys.readouterr()
    assert rc == 2 and needle in out.err and "reduced" not in out.err + out.out
    assert len(out.err.strip().splitlines()) == 1 and not (tmp_path / "run").exists()
