"""``entronas train``: train one architecture (or a named reference) and report it.

Why a command of its own: checking a single candidate's accuracy next to its analytical
ROM/RAM/FLOPs is the everyday sanity check before and after a search. Torch is imported only
when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .._core.arch import Arch
from .._core.errors import InvalidParameterError
from ..space.base import ChainSpace
from .options import parse_widths


def resolve_candidate(name: str, arch: str | None) -> tuple[ChainSpace, Arch]:
    """A space preset with ``--arch``, or a reference architecture name without it."""
    from ..space.presets import SPACES, get_space
    from ..space.references import REFERENCES, get_reference

    if name not in SPACES and name in REFERENCES and arch is None:
        return get_reference(name)
    space = get_space(name)  # unknown names raise with a close-match hint
    if arch is None:
        raise InvalidParameterError(
            f"--arch is required for space {name!r} (e.g. --arch "
            f"{','.join(str(space.grid(space.depth_min, i)[0]) for i in range(space.depth_min))})"
            "; or name a reference (see entronas.space.references)")
    return space, space.arch(parse_widths(arch))


def save_run(out: Path, space: ChainSpace, result: Any, dataset: str,
             resources: dict[str, int]) -> list[Path]:
    """``model.pt`` (state_dict), ``arch.json`` (the arch record), ``metrics.json``."""
    from .._core.fileio import atomic_torch_save
    from ..runs.archrecord import ArchRecord
    from ..runs.rundir import write_arch_dir

    rec = ArchRecord(space, tuple(result.arch.widths), dataset=dataset,
                     metrics={k: v for k, v in result.metrics.items()
                              if not isinstance(v, dict)}, score=result.score)
    return write_arch_dir(out, rec, weights=lambda p: atomic_torch_save(p, result.state_dict),
                          metrics={**result.to_dict(), "dataset": dataset,
                                   "resources": resources})


#: the data set a space's input is shaped for (channels-first input shape -> name)
_DATASET_BY_SHAPE = {(64,): "digits", (1, 8, 8): "digits", (1, 49, 10): "kws",
                     (3, 32, 32): "cifar10", (3, 96, 96): "vww", (640,): "toyadmos"}


def dataset_for(space: ChainSpace) -> str:
    """The data set whose samples have the space's input shape; one line when there is none."""
    name = _DATASET_BY_SHAPE.get(tuple(space.input_shape))
    if name is None:
        raise InvalidParameterError(
            f"space {space.name!r} takes inputs of shape {list(space.input_shape)}, which no "
            "built-in data set has; pass --dataset NAME (see `entronas datasets`)")
    return name


def _fmt_metric(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def register(group: click.Group) -> None:
    """Add the ``train`` command to the CLI group."""

    @group.command("train")
    @click.argument("space_name", metavar="SPACE")
    @click.option("--arch", "arch", default=None,
                  help="Layer widths, e.g. 84,112,84,84,84,196 (omit for a reference name).")
    @click.option("--dataset", default=None,
                  help="Data set name (see `entronas datasets`; default: the one the space's "
                       "input is shaped for).")
    @click.option("--data-root", type=click.Path(file_okay=False), default=None,
                  help="Data set folder (default $ENTRONAS_DATA or ~/.cache/entronas).")
    @click.option("--download", is_flag=True, help="Download the data set if missing.")
    @click.option("--epochs", type=int, default=None,
                  help="Epochs (default: the paper's per backbone).")
    @click.option("--batch-size", type=int, default=None, help="Default 100 (512 for AE).")
    @click.option("--lr", type=float, default=1e-3, show_default=True, help="Adam learning rate.")
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
                  show_default=True)
    @click.option("--amp", is_flag=True, help="Mixed precision (CUDA only; ignored on CPU).")
    @click.option("--threads", type=int, default=None,
                  help="CPU threads (default: 1 for networks whose batch needs fewer than "
                       "50 M FLOPs, else torch's count).")
    @click.option("--out", type=click.Path(file_okay=False), default=None,
                  help="Save model.pt, arch.json and metrics.json here.")
    @click.option("--progress/--no-progress", default=True, show_default=True)
    def train_cmd(space_name: str, arch: str | None, dataset: str | None, data_root: str | None,
                  download: bool, epochs: int | None, batch_size: int | None, lr: float,
                  seed: int, device: str, amp: bool, threads: int | None, out: str | None,
                  progress: bool) -> None:
        """Train SPACE's architecture --arch on --dataset; print metrics and resources.

        SPACE may also be a reference name (micronet-kws-s, mlperf-dscnn, mlperf-fc-ae, ...),
        then --arch is omitted. ROM follows the paper (w = M*N); "+bias" adds the biases
        that folding BatchNorm creates.
        """
        from .._core.imports import require
        from ..cost import costs as cost_convention, estimate
        from ..targets.base import fmt_bytes

        space, candidate = resolve_candidate(space_name, arch)
        require("torch", "torch", "entronas train")
        if out is not None:  # fail before training, not after, if --out cannot be written
            Path(out).mkdir(parents=True, exist_ok=True)
        from ..data import get_dataset
        from ..train import train

        ds = get_dataset(dataset or dataset_for(space), root=data_root, download=download)
        result = train(space, candidate, ds, epochs=epochs, batch_size=batch_size, lr=lr,
                       seed=seed, device=device, amp=amp, progress=progress, threads=threads)
        costs = estimate(space, candidate, cost_convention("paper"))
        with_bias = estimate(space, candidate, cost_convention("paper", bias=True))
        deployed = {d: estimate(space, candidate, cost_convention("tflm", d))
                    for d in ("float32", "int8")}
        resources = {**costs.to_dict(), "rom_with_bias": with_bias.rom,
                     "weights_with_bias": with_bias.weights,
                     **{f"tflm_{d}": {"rom": c.rom, "ram": c.ram} for d, c in deployed.items()}}
        click.echo(f"arch      {candidate}  (dataset {ds.name}, device {result.device}"
                   f"{', amp' if result.amp else ''})")
        state = " (interrupted)" if result.interrupted else ""
        click.echo(f"training  {result.epochs}/{result.epochs_planned} epochs{state} in "
                   f"{result.train_seconds:.1f} s, {result.samples_per_s:,.0f} samples/s")
        rank = {"accuracy": 0, "auc": 1, "pauc": 2}
        for key, value in sorted(result.metrics.items(), key=lambda kv: rank.get(kv[0], 3)):
            if not isinstance(value, dict):
                click.echo(f"{key:<14}{_fmt_metric(value)}")
        click.echo(f"ROM       {fmt_bytes(costs.rom)} ({costs.rom:,} B, {costs.weights:,} "
                   f"weights; +bias {with_bias.rom:,} B)")
        click.echo(f"RAM       {fmt_bytes(costs.ram)} ({costs.ram:,} B, Eq. 4)")
        click.echo(f"FLOPs     {costs.flops:,}")
        for d, c in deployed.items():
            click.echo(f"deployed  {d}: .tflite {c.rom:,} B, TFLM arena {c.ram:,} B "
                       "(estimate, tflm convention)")
        if out is not None:
            files = save_run(Path(out), space, result, ds.name, resources)
            click.echo(f"saved     {', '.join(str(f) for f in files)}")
        if result.interrupted:
            raise click.exceptions.Exit(130)
