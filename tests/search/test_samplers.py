"""The Optuna samplers over X^f, exercised through real (in-memory) Optuna studies."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from scipy import stats

from entronas.sampling import geometric_probabilities
from entronas.search.errors import StudyMismatchError
from entronas.search.adapters import STRATEGIES
from entronas.search.adapters.samplers import (FINGERPRINT_ATTR, EntropySampler,
                                               FeasibleRandomSampler)
from entronas.search.params import arch_from_params, params_of, suggest_arch

from .conftest import stand_in

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _study(sampler, prepared=None):
    study = optuna.create_study(direction="maximize", sampler=sampler)
    if prepared is not None:
        study.set_user_attr(FINGERPRINT_ATTR, prepared.key)
    return study


def _widths(study):
    return [tuple(t.user_attrs["widths"]) for t in study.get_trials()
            if t.state == optuna.trial.TrialState.COMPLETE]


def test_params_round_trip(small_prepared):
    space = small_prepared.space
    for i in range(0, len(small_prepared.feasible), 37):
        w = small_prepared.widths(i)
        arch = suggest_arch(optuna.trial.FixedTrial(params_of(w)), space)
        assert arch.widths == w
        assert arch_from_params(space, params_of(w)).widths == w


@pytest.mark.parametrize("cls", [EntropySampler, FeasibleRandomSampler])
def test_only_members_no_repeats_and_stops_when_exhausted(tiny_prepared, cls):
    n = len(tiny_prepared.feasible)
    study = _study(tiny_prepared.sampler(cls, seed=1), tiny_prepared)
    study.optimize(tiny_prepared.objective(stand_in), n_trials=5 * n)
    got = _widths(study)
    assert len(study.trials) == n                       # the sampler stopped the study itself
    assert len(got) == n and len(set(got)) == n         # every member once, none twice
    assert all(tiny_prepared.index_of(arch_from_params(tiny_prepared.space,
                                                       dict(zip(["depth"] + [f"width_{i}" for i
                                                                in range(len(w))],
                                                                [len(w), *w])))) is not None
               for w in got)
    assert all(t.user_attrs["status"] == "trained" for t in study.trials)


def test_exhausted_trial_is_pruned_not_trained(tiny_prepared):
    n = len(tiny_prepared.feasible)
    study = _study(tiny_prepared.sampler(EntropySampler, seed=0), tiny_prepared)
    study.optimize(tiny_prepared.objective(stand_in), n_trials=n)
    calls = []
    study.optimize(tiny_prepared.objective(lambda a, s: calls.append(a) or stand_in(a, s)),
                   n_trials=3)
    assert calls == []
    extra = study.trials[n:]
    assert len(extra) == 1 and extra[0].state == optuna.trial.TrialState.PRUNED


def test_members_of_xf_in_a_larger_space(small_prepared):
    study = _study(small_prepared.sampler(EntropySampler, seed=3), small_prepared)
    study.optimize(small_prepared.objective(stand_in), n_trials=60)
    got = _widths(study)
    assert len(set(got)) == 60
    for w in got:
        assert small_prepared.index_of(arch_from_params(small_prepared.space,
                                                        params_of(w))) is not None
        d = small_prepared.describe(arch_from_params(small_prepared.space, params_of(w)))
        assert d["fits"]


def _chi2_vs_eq7(clusters, n_clusters, p=0.5):
    probs = geometric_probabilities(n_clusters, p)
    obs = np.bincount(clusters, minlength=n_clusters).astype(float)
    exp = probs * len(clusters)
    # merge the tail into one bin so every expected count is >= 5
    k = int(np.searchsorted(-np.cumsum(exp[::-1])[::-1], -5.0, side="right"))
    k = max(1, min(k, n_clusters - 1))
    while k > 1 and exp[k:].sum() < 5:
        k -= 1
    obs_m = np.append(obs[:k], obs[k:].sum())
    exp_m = np.append(exp[:k], exp[k:].sum())
    return stats.chisquare(obs_m, exp_m).pvalue


def test_pure_draws_with_replacement_follow_eq7(big_prepared):
    pure = big_prepared.candidates.policy("entropy")
    idx = pure.inner.sample(20_000, seed=0, replace=True)
    clusters = big_prepared.clusters.labels_[idx]
    assert _chi2_vs_eq7(clusters, big_prepared.clusters.n_clusters_) > 0.01


def test_study_draws_follow_eq7(big_prepared):
    """250 study draws from 2,098 candidates in 5 clusters. Eq. 7 renormalises over clusters
    with candidates left, so the cluster law is exact as long as no cluster runs out."""
    study = _study(big_prepared.sampler(EntropySampler, seed=11), big_prepared)
    study.optimize(big_prepared.objective(stand_in), n_trials=250)
    clusters = np.array([t.user_attrs["cluster"] for t in study.trials])
    labels = np.array([big_prepared.clusters.labels_[t.user_attrs["index"]]
                       for t in study.trials])
    assert (clusters == labels).all()          # recorded cluster = the sampler's cluster
    assert (np.bincount(labels, minlength=5) < big_prepared.clusters.sizes_).all()
    assert _chi2_vs_eq7(labels, big_prepared.clusters.n_clusters_) > 0.01
    assert len({t.user_attrs["index"] for t in study.trials}) == 250


def test_same_seed_same_sequence_other_seed_differs(small_prepared):
    def seq(seed):
        study = _study(small_prepared.sampler(EntropySampler, seed=seed), small_prepared)
        study.optimize(small_prepared.objective(stand_in), n_trials=25)
        return _widths(study)

    a, b, c = seq(5), seq(5), seq(6)
    assert a == b
    assert a != c


def test_trial_numbers_give_independent_streams(big_prepared):
    """First draws (nothing taken) of trials 0..1999: Eq. 7 marginals, no lag-1 dependence."""
    sampler = big_prepared.sampler(EntropySampler, seed=0)
    pure = big_prepared.candidates.policy("entropy")
    draws = [pure.suggest(sampler.rng_for(n), set()) for n in range(2000)]
    labels = big_prepared.clusters.labels_[np.array(draws)]
    assert _chi2_vs_eq7(labels, big_prepared.clusters.n_clusters_) > 0.01
    top = labels == 0
    table = np.array([[np.sum(~top[:-1] & ~top[1:]), np.sum(~top[:-1] & top[1:])],
                      [np.sum(top[:-1] & ~top[1:]), np.sum(top[:-1] & top[1:])]])
    assert stats.chi2_contingency(table).pvalue > 0.01
    assert len(set(draws)) > 1000


def test_worker_with_another_reduction_fails_loudly(small_prepared, tiny_prepared):
    study = _study(small_prepared.sampler(EntropySampler), small_prepared)
    study.optimize(small_prepared.objective(stand_in), n_trials=2)
    other = optuna.load_study(study_name=study.study_name, storage=study._storage,
                              sampler=tiny_prepared.sampler(EntropySampler))
    with pytest.raises(StudyMismatchError, match="created for candidates"):
        other.optimize(tiny_prepared.objective(stand_in), n_trials=1)


def test_sampler_rejects_foreign_parameters(small_prepared):
    study = _study(small_prepared.sampler(EntropySampler), small_prepared)

    def objective(trial):
        suggest_arch(trial, small_prepared.space)
        return trial.suggest_float("lr", 1e-4, 1e-1)

    with pytest.raises(ValueError, match="lr"):
        study.optimize(objective, n_trials=1)
    fb = small_prepared.sampler(EntropySampler, fallback=optuna.samplers.RandomSampler(seed=0))
    study2 = _study(fb, small_prepared)
    study2.optimize(objective, n_trials=2)
    assert all("lr" in t.params for t in study2.trials)


def test_tpe_on_the_same_objective_prunes_infeasible(small_prepared):
    study = _study(STRATEGIES.get("tpe").make(small_prepared.candidates, {}, "", 0))
    study.optimize(small_prepared.objective(stand_in), n_trials=40)
    infeasible = [t for t in study.trials if t.user_attrs.get("status") == "infeasible"]
    trained = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert infeasible, "TPE proposes outside X^f on this budget"
    assert all(t.state == optuna.trial.TrialState.PRUNED for t in infeasible)
    assert all(max(t.user_attrs["constraints"]) > 0 for t in infeasible)
    assert all(t.user_attrs["index"] >= 0 for t in trained)


def test_sampler_pickles(small_prepared):
    import pickle

    s = pickle.loads(pickle.dumps(small_prepared.sampler(EntropySampler, seed=4)))
    assert s.seed == 4 and len(s.candidates.feasible) == len(small_prepared.feasible)


@pytest.mark.parametrize("encoding", ["categorical", "int"])
def test_tied_widths_are_not_parameters_so_tpe_cannot_break_them(encoding):
    """resnet8-cifar10 ties a stride-1 block's width to the stem's ("eq"): TPE over the box
    gets no parameter for it, so every proposal keeps the tie; the params round-trip."""
    from entronas.search.params import has_arch, width_name
    from entronas.space import get_space

    # an ordered integer needs an evenly spaced grid (check_encoding refuses others up front)
    space = get_space("resnet8-cifar10", **({"widths": tuple(range(8, 65, 8))}
                                            if encoding == "int" else {}))
    seen = []

    def objective(trial):
        arch = suggest_arch(trial, space, encoding)
        space.check_arch(arch)                         # raises if the tie were broken
        assert width_name(1) not in trial.params and has_arch(space, trial.params)
        assert arch_from_params(space, trial.params) == arch
        seen.append(arch.widths)
        return float(sum(arch.widths))

    sampler = optuna.samplers.TPESampler(seed=0, n_startup_trials=5)
    optuna.create_study(direction="maximize", sampler=sampler).optimize(objective, n_trials=30)
    assert len(seen) == 30 and all(w[1] == w[0] for w in seen)
    assert not has_arch(space, {"depth": 4, "width_0": 16, "width_2": 32})  # width_3 missing


@pytest.mark.parametrize("cls", [EntropySampler, FeasibleRandomSampler])
def test_distribution_backed_candidates_in_a_real_study(monkeypatch, cls):
    """A set too large to list draws from its exact entropy distribution (here forced on a
    small one): every member once, none twice, clusters recorded as the distribution's."""
    from entronas.sampling import candidates

    from .conftest import prepare

    monkeypatch.setattr(candidates, "LIST_LIMIT", 0)
    prepared = prepare(space="mlp-example", target="paper-small", rom=9000, ram="1MiB",
                       n_clusters=4)
    assert prepared.candidates.distribution is not None
    n = prepared.feasible.size
    study = _study(prepared.sampler(cls, seed=1), prepared)
    study.optimize(prepared.objective(stand_in), n_trials=3 * n)
    got = _widths(study)
    assert len(study.trials) == n and len(set(got)) == n
    for t in study.trials:
        h, cluster = prepared.candidates.entropy_at(t.user_attrs["index"])
        assert t.user_attrs["cluster"] == cluster


def test_a_study_begun_with_another_index_order_keeps_its_taken_set(monkeypatch):
    """A counted X^f was ordered by its counting DP; it is now built as its DAG, whose indices
    differ. A study begun with the old order and resumed with the new one must not retrain a
    network: a trial's widths, not its stored index, decide what it took."""
    from entronas.proxy import distribution
    from entronas.reduce import reduce_space
    from entronas.sampling import Candidates, candidates

    from .conftest import prepare

    monkeypatch.setattr(candidates, "LIST_LIMIT", 0)
    prepared = prepare(space="mlp-digits", space_overrides={"depth_max": 2},
                       target="stm32g071", rom="16KiB", ram="768B", rom_reserve=0,
                       ram_reserve=0, costs="paper", n_clusters=4)  # RAM partitions the count
    record = prepared.record
    counted, _ = reduce_space(record.space, record.target, record.costs, method="count")
    monkeypatch.setattr(distribution, "MAX_ENTRIES", 0)   # the old way: a pool of the counts
    old = Candidates.build(counted, n_clusters=4)
    monkeypatch.undo()
    monkeypatch.setattr(candidates, "LIST_LIMIT", 0)
    new = Candidates.build(counted, n_clusters=4)         # the DAG, another index order
    assert old.distribution is None and new.distribution is not None
    n = new.feasible.size
    assert counted.widths_of(range(n)) != new.feasible.widths_of(range(n))
    study = _study(EntropySampler(old, key=prepared.key, seed=1), prepared)
    study.optimize(prepared.objective(stand_in), n_trials=n // 2)
    from entronas.search.adapters.objective import Objective

    # resumed as a new process would: the same storage, a fresh study object
    study = optuna.load_study(study_name=study.study_name, storage=study._storage,
                              sampler=EntropySampler(new, key=prepared.key, seed=2))
    study.optimize(Objective(record, new, stand_in), n_trials=3 * n)
    assert not [t for t in study.trials if t.user_attrs.get("status") == "duplicate"]
    got = _widths(study)
    assert len(got) == n and len(set(got)) == n
