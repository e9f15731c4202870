"""Pure candidate policies over an indexed feasible set (no Optuna, no torch).

A policy answers ``suggest(rng, taken) -> index | None`` (None: nothing left). The
:class:`Candidates` artefact (X^f + entropies + clusters) hands out policies by name
(:data:`POLICIES`); the Optuna samplers in ``entronas.search.adapters`` wrap them.
"""

from .candidates import POLICIES, CandidatePolicy, Candidates
from .entropy import EntropyPolicy, geometric_probabilities
from .uniform import UniformPolicy

__all__ = ["CandidatePolicy", "Candidates", "EntropyPolicy", "POLICIES", "UniformPolicy",
           "geometric_probabilities"]
