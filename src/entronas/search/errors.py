"""Errors of the search layer."""

from __future__ import annotations

from .._core.errors import EntronasError


class SearchError(EntronasError):
    """A search run cannot start or continue (bad storage, study mismatch, bad evaluator...)."""


class StudyMismatchError(SearchError):
    """An existing study was created for another space, target, reduction or strategy."""
