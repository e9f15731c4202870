"""Decorator registries with close-match hints (the timm pattern, without metaclass magic)."""

from __future__ import annotations

import difflib
import fnmatch
import warnings
from typing import Callable, Generic, Iterator, TypeVar

from .errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> object table. ``kind`` is used in messages ("space", "target", ...)."""

    def __init__(self, kind: str, list_command: str | None = None) -> None:
        self.kind = kind
        self.list_command = list_command
        self._items: dict[str, T] = {}

    def register(self, name: str, obj: T, *, overwrite: bool = False) -> T:
        key = name.lower()
        if key in self._items and not overwrite:
            warnings.warn(f"{self.kind} {name!r} registered twice; the later one wins",
                          stacklevel=3)
        self._items[key] = obj
        return obj

    def decorator(self, name: str) -> Callable[[T], T]:
        def wrap(obj: T) -> T:
            return self.register(name, obj)

        return wrap

    def get(self, name: str) -> T:
        key = str(name).lower()
        if key in self._items:
            return self._items[key]
        hint = difflib.get_close_matches(key, list(self._items), n=1)
        msg = f"unknown {self.kind} {name!r}"
        if hint:
            msg += f"; did you mean {hint[0]!r}?"
        msg += f"{'' if hint else ';'} known: {', '.join(sorted(self._items))}"
        if self.list_command:
            msg += f" (see `{self.list_command}`)"
        raise UnknownNameError(msg)

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._items if fnmatch.fnmatch(n, pattern.lower()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
