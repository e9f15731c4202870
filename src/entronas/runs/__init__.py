"""Runs as data: the run record, arch files, and the run directory that holds them.

No Optuna and no torch here: the search, training, export and report layers all read and write
a run through these types, so what a run was made with is never re-derived.
"""

from .archrecord import ArchRecord
from .record import (CHANGEABLE, CandidateSettings, Component, RunRecord, TrainSettings)
from .rundir import RunDir, RunDirError, RunInfo

__all__ = ["ArchRecord", "CHANGEABLE", "CandidateSettings", "Component", "RunDir",
           "RunDirError", "RunInfo", "RunRecord", "TrainSettings"]
