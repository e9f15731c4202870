"""Model-based search inside X^f: a surrogate fitted on the trials so far, an acquisition
evaluated over every candidate, the best untried candidate next.

Why: TPE learns from scores but samples the unconstrained box (infeasible proposals, repeats);
entropy sampling and greedy know X^f but never learn. This policy does both: it starts from
``n_startup`` draws (by default one: the member of X^f with the most MACs, greedy's first
pick), then fits a surrogate on the observed (candidate, score) pairs and scores *all*
candidates (or the counted set's pool) with an acquisition, so it can only ever propose an
untried member of X^f.

Surrogates (picked by measurement on complete tables, ``benchmarks/bench_strategies.py``):

* ``"lin"`` (default): Bayesian linear regression (scikit-learn's ``BayesianRidge``) on four
  standardised summary features (depth, Eq. 6 entropy, log2 MACs, log2 parameters), and on
  every feature (each layer's log width too, and its square about the mean log width, so a
  layer can have a best width inside its grid) from 10 trials on; expected improvement over the
  best posterior mean of the tried candidates (plug-in EI: the noisy best score would chase
  lucky seeds). Four coefficients are learnable from a handful of trials, which is the regime
  a search of 10-100 trained networks lives in.
* ``"tpe"``: factorised Parzen densities over the candidates' discrete choices (depth and each
  layer's width), l(x) of the best ``gamma`` fraction of trials against g(x) of the rest, with
  add-one smoothing over the values the candidates take; acquisition log l(x) - log g(x)
  (TPE's rule, but evaluated on X^f instead of sampled from the box).
* ``"rf"``: a random forest (scikit-learn) on the features of :mod:`.features`; expected
  improvement from the trees' mean and spread.
* ``"gp"``: a Gaussian process (scikit-learn, Matern 5/2 + noise) on the standardised
  features; expected improvement. Fitted on the most recent 300 trials at most.
"""

from __future__ import annotations

import math
from typing import Collection, Sequence

import numpy as np

from .._core.rng import as_generator
from .._core.validation import check_choice, check_number
from .entropy import EntropyPolicy
from .greedy import GreedyPolicy

MODELS = ("lin", "tpe", "rf", "gp")
#: how the start-up draws are made: "greedy" = the most MACs first, then entropy sampling;
#: "entropy" = entropy sampling (Eq. 7) only
STARTS = ("greedy", "entropy")
#: the defaults, picked on the complete mlp_digits table (``benchmarks/bench_strategies.py
#: --select --only mlp_digits.csv``, 100 runs per cell): lin with one greedy start-up trial had
#: the best sum over the 6 (budget, k) cells, ahead of lin with 3 entropy draws, tpe densities
#: (the earlier default) and the random forest; the README's "Which strategy?" has the table
DEFAULT_MODEL = "lin"
DEFAULT_N_STARTUP = 1
DEFAULT_START = "greedy"
#: lin: four summary features while trials are few, every feature (per-layer log widths too)
#: from this many trials on (measured: at k = 40 higher on all 6 cells of mlp_digits and
#: dscnn_digits than summary features throughout, by 0.0001-0.0012)
LIN_ALL_FEATURES_AFTER = 10
#: lin's "every feature" set includes each layer's squared centred log width (measured on the 9
#: cells of bench_strategies, 100 runs each, k = 40: higher on 4 cells by 0.0001-0.0016, the
#: largest on dscnn_digits 16 KiB / 12 KiB, whose best networks have middle widths; lower on 2
#: by 0.0003 and 0.0012; k = 10 unchanged by construction)
LIN_WIDTH_CURVATURE = True


class SurrogatePolicy:
    """Entropy-sampled start, then the untried candidate with the best acquisition."""

    uses_history = True

    def __init__(self, features: np.ndarray, labels: np.ndarray, *, model: str = DEFAULT_MODEL,
                 n_startup: int = DEFAULT_N_STARTUP, start: str = DEFAULT_START,
                 gamma: float = 0.25, p: float = 0.5, choices: np.ndarray | None = None,
                 summary: np.ndarray | None = None, macs: np.ndarray | None = None,
                 log_widths: np.ndarray | None = None, seed: int = 0) -> None:
        self.model = check_choice(model, "model", "the bo strategy (--model)", MODELS)
        self.start = check_choice(start, "start", "the bo strategy", STARTS)
        self.n_startup = check_number(n_startup, "n_startup", "the bo strategy", lo=1,
                                      integer=True)
        self.gamma = check_number(gamma, "gamma", "the bo strategy", lo=0, hi=1,
                                  closed="neither")
        self.features = np.asarray(features, np.float64)
        self.choices = self.features if choices is None else np.asarray(choices)
        self.summary = self.features if summary is None else np.asarray(summary, np.float64)
        #: (N, D) log2 width of each layer, 0 beyond a network's depth (lin's curvature terms)
        self.log_widths = None if log_widths is None else np.asarray(log_widths, np.float64)
        self.n = len(self.features)
        if self.start == "greedy" and macs is None:
            raise ValueError("the bo strategy's greedy start needs the candidates' MACs (macs=)")
        # the greedy start is the greedy strategy's first pick (most MACs, ties: lower position)
        self._greedy = None if macs is None else GreedyPolicy(np.asarray(macs, np.float64))
        self.seed = int(seed)
        self._startup = EntropyPolicy(labels, p=p)
        self._x_std: dict[str, np.ndarray] = {}
        self._buffers: tuple[np.ndarray, np.ndarray] | None = None   # lin's posterior scratch

    def suggest(self, rng: np.random.Generator | int | None, taken: Collection[int] = (),
                history: Sequence[tuple[int, float]] | None = None) -> int | None:
        """An untried position; ``history`` holds (position, score) of finished trials."""
        rng = as_generator(rng)
        taken_set = taken if isinstance(taken, (set, frozenset)) else set(taken)
        if len(taken_set) >= self.n:
            return None
        hist = [(int(i), float(s)) for i, s in (history or ()) if math.isfinite(s)]
        if len(hist) < self.n_startup:
            if self.start == "greedy" and not hist:
                return self._greedy.suggest(rng, taken_set)
            return self._startup.suggest(rng, taken_set)
        idx = np.array([i for i, _ in hist], np.int64)
        y = np.array([s for _, s in hist])
        score = getattr(self, f"_{self.model}")(idx, y)
        if taken_set:
            score[np.fromiter(taken_set, np.int64)] = -np.inf
        best = np.flatnonzero(score == score.max())
        return int(best[rng.integers(len(best))]) if len(best) > 1 else int(best[0])

    # ------------------------------------------------------------------ surrogates
    def _lin(self, idx: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Bayesian linear regression on the standardised summary features (every feature
        once there are ``LIN_ALL_FEATURES_AFTER`` trials); plug-in EI."""
        from .._core.imports import require

        linear = require("sklearn.linear_model", "search", "the bo strategy's linear model")
        which = "all" if len(y) >= LIN_ALL_FEATURES_AFTER else "summary"
        if which not in self._x_std:
            x = self.features if which == "all" else self.summary
            if which == "all" and LIN_WIDTH_CURVATURE and self.log_widths is not None:
                x = np.column_stack([x, _width_curvature(self.log_widths, self.features[:, 0])])
            self._x_std[which] = (x - x.mean(0)) / (x.std(0) + 1e-9)
        x = self._x_std[which]
        if self._buffers is None or self._buffers[0].shape != x.shape:
            self._buffers = (np.empty(x.shape), np.empty(x.shape))
        model = linear.BayesianRidge().fit(x[idx], y)
        mean, std = _ridge_posterior(model, x, self._buffers)
        return _expected_improvement(mean, std, float(mean[idx].max()))

    def _tpe(self, idx: np.ndarray, y: np.ndarray) -> np.ndarray:
        """log l(x) - log g(x), factorised over the discrete choices."""
        n_good = max(1, int(math.ceil(self.gamma * len(y))))
        order = np.argsort(-y, kind="stable")
        good, bad = idx[order[:n_good]], idx[order[n_good:]]
        score = np.zeros(self.n)
        for j in range(self.choices.shape[1]):
            col = self.choices[:, j]
            values, codes = np.unique(col, return_inverse=True)
            prior = 1.0 / len(values)
            lg = np.bincount(codes[good], minlength=len(values)) + prior
            bg = np.bincount(codes[bad], minlength=len(values)) + prior
            score += np.log(lg / lg.sum())[codes] - np.log(bg / bg.sum())[codes]
        return score

    def _rf(self, idx: np.ndarray, y: np.ndarray) -> np.ndarray:
        from .._core.imports import require

        ensemble = require("sklearn.ensemble", "search", "the bo strategy's random forest")
        forest = ensemble.RandomForestRegressor(n_estimators=48, min_samples_leaf=2,
                                                random_state=self.seed, n_jobs=1)
        forest.fit(self.features[idx], y)
        per_tree = np.stack([t.predict(self.features) for t in forest.estimators_])
        return _expected_improvement(per_tree.mean(0), per_tree.std(0), y.max())

    def _gp(self, idx: np.ndarray, y: np.ndarray) -> np.ndarray:
        from .._core.imports import require

        gp_mod = require("sklearn.gaussian_process", "search", "the bo strategy's GP")
        kernels = require("sklearn.gaussian_process.kernels", "search", "the bo strategy's GP")
        idx, y = idx[-300:], y[-300:]
        mu, sd = self.features.mean(0), self.features.std(0) + 1e-9
        x = (self.features - mu) / sd
        kernel = kernels.Matern(length_scale=np.ones(x.shape[1]), nu=2.5) + \
            kernels.WhiteKernel(1e-3)
        gp = gp_mod.GaussianProcessRegressor(kernel=kernel, normalize_y=True,
                                             random_state=self.seed)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gp.fit(x[idx], y)
        mean, std = gp.predict(x, return_std=True)
        return _expected_improvement(mean, std, y.max())


def _width_curvature(log_widths: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Each present layer's squared log width about the mean of all present log widths (0 for
    a layer beyond the network's depth): with the linear terms, a concave fit per layer."""
    present = np.arange(log_widths.shape[1])[None, :] < depth[:, None]
    centre = log_widths[present].mean() if present.any() else 0.0
    return np.where(present, log_widths - centre, 0.0) ** 2


def _ridge_posterior(model, x: np.ndarray, buffers: tuple[np.ndarray, np.ndarray] | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``BayesianRidge.predict(x, return_std=True)``: the same arithmetic, without its input
    checks and, given ``buffers`` (two arrays shaped like ``x``), without allocating two
    candidates-by-features temporaries per trial (measured: with those, predicting every
    candidate took 2-3x the arithmetic's time). Bit for bit the library's
    (``tests/search/test_strategies.py``)."""
    mean = x @ model.coef_ + model.intercept_
    if buffers is None or not x.flags.c_contiguous:
        # the library's own expression (a strided x rounds differently in a C buffer)
        xc = x - model.X_offset_
        return mean, np.sqrt((np.dot(xc, model.sigma_) * xc).sum(axis=1) + 1.0 / model.alpha_)
    xc, tmp = buffers
    np.subtract(x, model.X_offset_, out=xc)
    np.dot(xc, model.sigma_, out=tmp)
    np.multiply(tmp, xc, out=tmp)
    return mean, np.sqrt(tmp.sum(axis=1) + 1.0 / model.alpha_)


#: sqrt(2 pi), as scipy.stats.norm.pdf divides by it
_SQRT_2PI = math.sqrt(2 * math.pi)


def _expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """EI of a normal posterior; ``scipy.special.ndtr`` and the density written out are
    ``scipy.stats.norm.cdf`` / ``.pdf`` without their per-call argument handling."""
    from scipy.special import ndtr

    std = np.maximum(std, 1e-12)
    z = (mean - best) / std
    return (mean - best) * ndtr(z) + std * (np.exp(-z**2 / 2.0) / _SQRT_2PI)
