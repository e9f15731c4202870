"""Pure candidate samplers over an indexed feasible set (no Optuna, no torch).

A sampler answers ``suggest(rng, taken) -> index | None`` (None: nothing left); the Optuna
adapters in ``entronas.search`` wrap these.
"""

from .entropy import EntropySampler, geometric_probabilities
from .uniform import UniformSampler

__all__ = ["EntropySampler", "UniformSampler", "geometric_probabilities"]

from .build import STRATEGIES, CandidateSampler, build_sampler  # noqa: E402

__all__ += ["STRATEGIES", "CandidateSampler", "build_sampler"]
