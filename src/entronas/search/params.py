"""The parameter-naming contract between architectures and Optuna trials.

This module is the only code that knows the names: ``depth`` and ``width_0 .. width_{L-1}``.
Widths beyond the chosen depth do not exist in a trial (Optuna's define-by-run conditionals),
and layers whose width the space fixes (e.g. an autoencoder's bottleneck) are still suggested,
with a one-value range. A width the space ties to the previous layer's (the ``"eq"`` rule of
an identity shortcut or a repeated block) is not a parameter: it is the previous width, so a
sampler that searches the box (TPE) can never break the tie.
"""

from __future__ import annotations

from typing import Any, Mapping

from .._core.arch import Arch
from .._core.errors import InvalidParameterError

DEPTH = "depth"


def width_name(i: int, space: Any = None) -> str:
    """Name of the i-th searched width (0-based), e.g. ``width_0``; in a space of named
    dimensions (:mod:`entronas.space.dimensions`) the dimension's own name, e.g. ``stem``."""
    if space is not None and not space.chained:
        return space.backbone_impl.structure(space)[0][i].name
    return f"width_{i}"


def _int_range(space: Any, depth: int, i: int) -> tuple[int, int, int]:
    grid = [int(w) for w in space.grid(depth, i)]
    if len(grid) == 1:
        return grid[0], grid[0], 1
    step = grid[1] - grid[0]
    if step <= 0 or any(b - a != step for a, b in zip(grid, grid[1:])):
        raise InvalidParameterError(
            f"space {space.name!r}: the width grid of layer {i} at depth {depth} is not evenly "
            f"spaced ({grid}); the Optuna parameter contract needs lo..hi/step grids")
    return grid[0], grid[-1], step


#: how a model-based sampler (TPE) sees a width: one categorical choice per layer, as the paper
#: and most NAS benchmarks treat it, or an ordered integer with a step
ENCODINGS = ("categorical", "int")


def check_encoding(space: Any, encoding: str) -> None:
    """Refuse ``encoding="int"`` on a space whose width grids are not evenly spaced (an
    ordered integer with a step cannot express 16, 32, 64, 128) before any work starts."""
    if encoding != "int":
        return
    for depth in space.depths:
        for i in range(depth):
            try:
                _int_range(space, depth, i)
            except InvalidParameterError:
                grid = [int(w) for w in space.grid(depth, i)]
                raise InvalidParameterError(
                    f"--encoding int needs evenly spaced width grids, and space "
                    f"{space.name!r} has {grid} at layer {i}; use --encoding categorical"
                ) from None


def trial_encoding(space: Any, params: Mapping[str, Any]) -> str:
    """How a strategy's trials name their widths: its own ``encoding`` (TPE), else ordered
    integers where the grids allow it (what studies have always stored) and categorical
    choices where they do not (a feasible-set sampler only hands out values)."""
    if "encoding" in params:
        return str(params["encoding"])
    try:
        check_encoding(space, "int")
    except InvalidParameterError:
        return "categorical"
    return "int"


def width_choices(space: Any, i: int) -> tuple[int, ...]:
    """Every width layer ``i`` can have, over all depths (one distribution per name)."""
    values: set[int] = set()
    for depth in space.depths:
        if i < depth:
            values.update(int(w) for w in space.grid(depth, i))
    return tuple(sorted(values))


def suggest_arch(trial: Any, space: Any, encoding: str = "int") -> Arch:
    """Suggest ``depth`` then one ``width_i`` per layer through ``trial``; return the Arch.

    ``encoding="categorical"`` offers every width a layer can have at any depth as one
    categorical choice (a combination outside X is not in X^f and pruned like any other);
    ``"int"`` an integer range with the grid's step.
    """
    depth = trial.suggest_int(DEPTH, space.depth_min, space.depth_max)
    widths: list[int] = []
    for i in range(depth):
        if tied(space, depth, i):
            widths.append(widths[-1])
            continue
        if encoding == "categorical":
            widths.append(int(trial.suggest_categorical(width_name(i, space),
                                                        list(width_choices(space, i)))))
            continue
        lo, hi, step = _int_range(space, depth, i)
        widths.append(trial.suggest_int(width_name(i, space), lo, hi, step=step))
    return Arch(space.name, tuple(widths))


def tied(space: Any, depth: int, i: int) -> bool:
    """Whether layer ``i``'s width is the previous layer's (not a parameter of its own)."""
    return i > 0 and space.relation(depth, i) == "eq"


def arch_from_params(space: Any, params: Mapping[str, Any]) -> Arch:
    """The Arch that a trial's ``params`` describe (inverse of :func:`suggest_arch`)."""
    try:
        depth = int(params[DEPTH])
        widths: list[int] = []
        for i in range(depth):
            name = width_name(i, space)
            widths.append(widths[-1] if name not in params and tied(space, depth, i)
                          else int(params[name]))
    except KeyError as exc:
        raise InvalidParameterError(
            f"trial parameters {dict(params)} lack {exc.args[0]!r}; expected 'depth' and "
            + ("'width_0'..'width_{depth-1}'" if space.chained else
               ", ".join(repr(width_name(i, space)) for i in range(space.depth_max)))
        ) from None
    return Arch(space.name, tuple(widths))


def has_arch(space: Any, params: Mapping[str, Any]) -> bool:
    """Whether a trial got as far as choosing its whole architecture."""
    if DEPTH not in params:
        return False
    depth = int(params[DEPTH])
    return all(width_name(i, space) in params or tied(space, depth, i) for i in range(depth))


def params_of(arch: Arch | tuple[int, ...], space: Any = None) -> dict[str, int]:
    """Trial parameters for ``arch`` (for ``study.enqueue_trial``; ``space`` names the
    parameters of a space of named dimensions)."""
    widths = arch.widths if isinstance(arch, Arch) else tuple(arch)
    out = {DEPTH: len(widths)}
    out.update({width_name(i, space): int(w) for i, w in enumerate(widths)})
    return out


def value_for(arch_widths: tuple[int, ...], name: str, space: Any = None) -> int | None:
    """The value of parameter ``name`` for a width tuple (None if the name is not ours)."""
    if name == DEPTH:
        return len(arch_widths)
    if space is not None and not space.chained:
        names = [width_name(i, space) for i in range(len(arch_widths))]
        return int(arch_widths[names.index(name)]) if name in names else None
    if name.startswith("width_") and name[6:].isdigit():
        i = int(name[6:])
        return int(arch_widths[i]) if i < len(arch_widths) else None
    return None
