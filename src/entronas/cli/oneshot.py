"""``entronas darts``: the one-shot baseline (DARTS supernet over X) for the Fig. 5 comparison."""

from __future__ import annotations

from typing import Any

import click

from .options import reserves, target_options


def register(cli: click.Group) -> None:
    cli.add_command(darts_cmd)


@click.command("darts")
@click.option("--space", default="dscnn-digits", show_default=True, help="Search space preset.")
@click.option("--dataset", default="digits", show_default=True)
@target_options("Report whether each derived network fits it.")
@click.option("--costs", type=click.Choice(["paper", "tflm"]), default=None,
              help="Cost convention (default: the target's).")
@click.option("--dtype", type=click.Choice(["float32", "int8"]), default=None)
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Weight learning rate.")
@click.option("--arch-lr", type=float, default=3e-4, show_default=True,
              help="Architecture-parameter learning rate.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--run-dir", default=None, help="Where darts.json goes (default runs/darts-...).")
def darts_cmd(space: str, dataset: str, target_name: str | None, rom: Any, ram: Any, flops: Any,
              costs: str | None, dtype: str | None, epochs: int, batch_size: int, lr: float,
              arch_lr: float, seed: int, device: str, run_dir: str | None, **kw: Any) -> None:
    """Train a DARTS supernet over the whole space X (not X^f) and track its accuracy over time.

    Every epoch records the supernet's test accuracy and the network it derives, with its
    ROM/RAM/FLOPs and whether it fits the target: `entronas report` draws the accuracy over
    time next to the multi-shot runs (the paper's Fig. 5).
    """
    from .._core.validation import check_number
    from ..data import get_dataset
    from ..oneshot import train_supernet
    from ..runs.rundir import RunDir
    from .options import resolve_counting

    check_number(epochs, "epochs", "entronas darts", lo=1, integer=True)
    sp, target, options = resolve_counting(space, target_name=target_name, rom=rom, ram=ram,
                                           flops=flops, costs=costs, dtype=dtype, bias=None,
                                           ram_model=None, need_target=False, **reserves(kw))
    out = RunDir(run_dir or f"runs/darts-{sp.name}-{dataset}-s{seed}")
    result = train_supernet(sp, get_dataset(dataset), epochs=epochs, batch_size=batch_size,
                            lr=lr, arch_lr=arch_lr, seed=seed, device=device, target=target,
                            options=options, log=lambda m: click.echo(m, err=True))
    data = {**result.to_dict(), "strategy": "darts", "dataset": dataset, "seed": seed,
            "target": None if target is None else target.to_dict(),
            "costs": options.describe()}
    written = out.write_darts(data)
    last = result.history[-1]
    click.echo(f"supernet accuracy {last['accuracy']:.4f} after {result.train_seconds:.1f} s; "
               f"derived {'-'.join(map(str, last['widths']))} ROM {last['rom']:,} RAM "
               f"{last['ram']:,} FLOPs {last['flops']:,}"
               + ("" if last["fits"] is None else f"; fits the target: {last['fits']}")
               + f" ({options.describe()})")
    click.echo(f"written: {written}")
