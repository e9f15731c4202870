"""``entronas darts``: the one-shot baseline (DARTS supernet over X) for the Fig. 5 comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .._core.fileio import atomic_write_json


def register(cli: click.Group) -> None:
    cli.add_command(darts_cmd)


@click.command("darts")
@click.option("--space", default="dscnn-digits", show_default=True, help="Search space preset.")
@click.option("--dataset", default="digits", show_default=True)
@click.option("--target", "-t", "target_name", default=None,
              help="MCU preset: report whether each derived network fits it.")
@click.option("--rom", default=None, help="ROM budget override.")
@click.option("--ram", default=None, help="RAM budget override.")
@click.option("--flops", default=None, help="FLOPs budget.")
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Weight learning rate.")
@click.option("--arch-lr", type=float, default=3e-4, show_default=True,
              help="Architecture-parameter learning rate.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--run-dir", default=None, help="Where darts.json goes (default runs/darts-...).")
def darts_cmd(space: str, dataset: str, target_name: str | None, rom: Any, ram: Any, flops: Any,
              epochs: int, batch_size: int, lr: float, arch_lr: float, seed: int, device: str,
              run_dir: str | None) -> None:
    """Train a DARTS supernet over the whole space X (not X^f) and track its accuracy over time.

    Every epoch records the supernet's test accuracy and the network it derives, with its
    ROM/RAM/FLOPs and whether it fits the target: `entronas report` draws the accuracy over
    time next to the multi-shot runs (the paper's Fig. 5).
    """
    from .._core.validation import check_number
    from ..data import get_dataset
    from ..oneshot import train_supernet
    from ..space.config import resolve_space
    from .core import resolve_target

    check_number(epochs, "epochs", "entronas darts", lo=1, integer=True)
    sp, file_target = resolve_space(space)
    target = None
    if target_name or rom or ram or flops or file_target:
        target = resolve_target(file_target, target_name, rom, ram, flops)
    out = Path(run_dir or f"runs/darts-{sp.name}-{dataset}-s{seed}")
    result = train_supernet(sp, get_dataset(dataset), epochs=epochs, batch_size=batch_size,
                            lr=lr, arch_lr=arch_lr, seed=seed, device=device, target=target,
                            log=lambda m: click.echo(m, err=True))
    data = {**result.to_dict(), "strategy": "darts", "dataset": dataset, "seed": seed,
            "target": None if target is None else target.to_dict()}
    atomic_write_json(out / "darts.json", data)
    last = result.history[-1]
    click.echo(f"supernet accuracy {last['accuracy']:.4f} after {result.train_seconds:.1f} s; "
               f"derived {'-'.join(map(str, last['widths']))} ROM {last['rom']:,} RAM "
               f"{last['ram']:,} FLOPs {last['flops']:,}"
               + ("" if last["fits"] is None else f"; fits the target: {last['fits']}"))
    click.echo(f"written: {out / 'darts.json'}")
