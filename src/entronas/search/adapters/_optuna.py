"""The one place that imports Optuna (extra ``search``)."""

from ..._core.imports import require

optuna = require("optuna", "search", "the search samplers")
STATE = optuna.trial.TrialState
