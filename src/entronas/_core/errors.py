"""One exception hierarchy. Every message is one line that names the bad value and the fix."""

from __future__ import annotations


class EntronasError(Exception):
    """Base class of all errors raised on purpose by entronas (the CLI prints them as one line)."""


class InvalidSpaceError(EntronasError, ValueError):
    """A search-space definition (preset overrides or a user file) is malformed."""


class InvalidParameterError(EntronasError, ValueError):
    """A public function or constructor got a value outside its documented range."""


class InfeasibleSpaceError(EntronasError):
    """No candidate of the space fits the budget; the message says what the cheapest one needs."""


class UnknownNameError(EntronasError, KeyError):
    """A registry lookup failed (unknown space, target, dataset, strategy...)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CorruptFileError(EntronasError):
    """A stored artifact (tree file, cache, archive) is damaged or not ours."""


class DatasetError(EntronasError):
    """A dataset is missing, incomplete, or fails its checksum."""


class MissingDependencyError(EntronasError, ImportError):
    """An optional extra is not installed; the message gives the pip command."""


class NotInSpaceError(EntronasError, ValueError):
    """An architecture is not a member of the (feasible) space it was looked up in."""
