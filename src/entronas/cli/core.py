"""Core commands: spaces, targets, estimate, reduce, sample, datasets, download."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from .._core.arch import parse_widths as split_widths
from .._core.errors import InvalidParameterError
from ..targets.base import Target, fmt_bytes


def parse_widths(text: str) -> tuple[int, ...]:
    """'84,112,84' or '84-112-84' -> (84, 112, 84)."""
    try:
        return split_widths(text)
    except ValueError:
        raise InvalidParameterError(f"cannot read widths {text!r}; write them as 84,112,84") \
            from None


def target_options(f: Any) -> Any:
    """Shared --target/--rom/--ram/--flops options."""
    f = click.option("--flops", help="FLOPs budget per inference, e.g. 10M.")(f)
    f = click.option("--ram", help="RAM budget, e.g. 256KiB (overrides the target's).")(f)
    f = click.option("--rom", help="ROM/flash budget, e.g. 1MB or 1MiB (overrides the target's).")(f)
    f = click.option("--target", "-t", "target_name", default=None,
                     help="MCU preset (see `entronas targets`).")(f)
    return f


def cost_options(f: Any) -> Any:
    f = click.option("--ram-overhead", type=int, default=0, show_default=True,
                     help="Fixed RAM bytes of the runtime (e.g. TFLM's persistent arena part).")(f)
    f = click.option("--tflm", is_flag=True,
                     help="Count as the exported TFLite Micro model: biases, int32 biases and "
                          "per-channel parameters for int8, flatbuffer metadata, RAM as the op "
                          "graph's live peak (measured: ROM within ~1 %).")(f)
    f = click.option("--ram-model", type=click.Choice(["eq4", "chain", "ops"]), default="eq4",
                     show_default=True,
                     help="eq4: ping-pong buffers (paper); chain: max(u_{i-1}+u_i); "
                          "ops: op-graph peak as TFLite Micro plans it.")(f)
    f = click.option("--bias/--no-bias", default=False, show_default=True,
                     help="Count bias terms (incl. folded BatchNorm) as weights.")(f)
    f = click.option("--dtype", type=click.Choice(["float32", "int8"]), default="float32",
                     show_default=True, help="Bytes per weight/activation.")(f)
    return f


def resolve_target(file_target: Target | None, name: str | None, rom: Any, ram: Any,
                   flops: Any) -> Target:
    from ..targets import get_target

    if name is not None:
        base = get_target(name)
    elif file_target is not None:
        base = file_target
    elif rom is None and ram is None and flops is None:
        raise InvalidParameterError("no budget given; pass --target NAME (see `entronas "
                                    "targets`) and/or --rom/--ram/--flops")
    else:
        base = Target("custom", None, None, None)
    return base.with_budgets(rom=rom, ram=ram, flops=flops)


def make_cost_options(dtype: str, bias: bool, ram_model: str, tflm: bool = False,
                      ram_overhead: int = 0) -> Any:
    from ..cost import CostOptions

    if ram_overhead < 0:
        raise InvalidParameterError(f"--ram-overhead must be >= 0, got {ram_overhead}")
    if tflm:
        from ..export.report import refined_cost_options

        return refined_cost_options(dtype, ram_overhead=ram_overhead)
    return CostOptions.for_dtype(dtype, bias=bias, ram_model=ram_model, ram_overhead=ram_overhead)


def register(cli: click.Group) -> None:
    for cmd in (spaces, targets, estimate_cmd, reduce_cmd, sample_cmd, datasets, download):
        cli.add_command(cmd)


@click.command()
@click.option("--pattern", default="*", help="Glob filter on names.")
def spaces(pattern: str) -> None:
    """List the built-in search spaces with their |X|."""
    from ..space import DESCRIPTIONS, get_space, list_spaces

    click.echo(f"{'space':20} {'depth':>6} {'|X|':>22}  description")
    for name in list_spaces(pattern):
        s = get_space(name)
        click.echo(f"{name:20} {f'{s.depth_min}..{s.depth_max}':>6} {s.size():>22,}  "
                   f"{DESCRIPTIONS.get(name, '')}")


@click.command()
def targets() -> None:
    """List the MCU presets and their budgets."""
    from ..targets import TARGETS, get_target

    click.echo(f"{'target':28} {'ROM':>12} {'RAM':>10}  description")
    for name in TARGETS.names():
        t = get_target(name)
        click.echo(f"{name:28} {fmt_bytes(t.rom):>12} {fmt_bytes(t.ram):>10}  {t.description}")


@click.command("estimate")
@click.argument("space")
@click.option("--arch", "-a", required=True, help="Widths, e.g. 84,112,84,84,84,196.")
@cost_options
def estimate_cmd(space: str, arch: str, dtype: str, bias: bool, ram_model: str, tflm: bool,
                 ram_overhead: int) -> None:
    """Per-layer ROM/RAM/FLOPs of one architecture (Eqs. 3-5)."""
    from ..cost import estimate
    from ..proxy import entropy
    from ..space.config import resolve_space

    sp, _ = resolve_space(space)
    widths = sp.check_arch(parse_widths(arch))
    c = estimate(sp, widths, make_cost_options(dtype, bias, ram_model, tflm, ram_overhead))
    click.echo(f"{'layer':12} {'kind':10} {'output':>16} {'u_i':>9} {'weights':>9} "
               f"{'ROM':>10} {'FLOPs':>12}")
    for row in c.per_layer:
        click.echo(f"{row['name']:12} {row['kind']:10} {'x'.join(map(str, row['out_shape'])):>16} "
                   f"{row['outputs']:>9,} {row['weights']:>9,} {row['rom']:>10,} "
                   f"{row['flops']:>12,}")
    click.echo(f"total: ROM {c.rom:,} B   RAM {c.ram:,} B   FLOPs {c.flops:,}   "
               f"entropy {entropy(sp, widths):.2f}")


@click.command("reduce")
@click.argument("space")
@target_options
@cost_options
@click.option("--method", type=click.Choice(["auto", "enumerate", "count"]), default="auto",
              show_default=True, help="List X^f as a tree, or count it exactly (huge spaces).")
@click.option("--out", "-o", type=click.Path(dir_okay=False), help="Save the tree file here.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def reduce_cmd(space: str, target_name: str | None, rom: Any, ram: Any, flops: Any, dtype: str,
               bias: bool, ram_model: str, tflm: bool, ram_overhead: int, method: str,
               out: str | None, as_json: bool) -> None:
    """Reduce SPACE (a name or a .toml/.yaml file) to the networks that fit the target."""
    from ..reduce import FeasibleTree, reduce_space, save_feasible
    from ..space.config import resolve_space

    sp, file_target = resolve_space(space)
    target = resolve_target(file_target, target_name, rom, ram, flops)
    options = make_cost_options(dtype, bias, ram_model, tflm, ram_overhead)
    t0 = time.perf_counter()
    feasible, report = reduce_space(sp, target, options, method=method)
    elapsed = time.perf_counter() - t0
    tree_bytes = feasible.nbytes if isinstance(feasible, FeasibleTree) else None
    flat = sum(d.feasible * d.depth * 4 for d in report.depths)
    if out:
        saved = save_feasible(feasible, out)
        if isinstance(feasible, FeasibleTree):
            tree_bytes = saved
    if as_json:
        data = report.to_dict()
        data.update(tree_bytes=tree_bytes, flat_list_bytes=flat, out=out)
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"space {sp.name}: |X| = {report.size:,}   target {target.describe()}")
    click.echo(f"{'L':>3} {'|X_L|':>20} {'|X^f_L|':>18}  {'time':>8}  M^red")
    for d in report.depths:
        mred = "-" if d.m_red is None else ",".join(map(str, d.m_red))
        note = "" if d.lower_bound_ok else "   (smallest network does not fit)"
        click.echo(f"{d.depth:>3} {d.size:>20,} {d.feasible:>18,}  {d.seconds:>7.3f}s  "
                   f"{mred}{note}")
    share = 100 * report.feasible / report.size
    click.echo(f"total |X^f| = {report.feasible:,} ({share:.3g} % of X), {report.method}, "
               f"{elapsed:.3f} s")
    if tree_bytes is not None:
        click.echo(f"storage: tree {tree_bytes:,} B ({feasible.n_nodes:,} nodes) vs flat list "
                   f"{flat:,} B (int32 widths)" + (f"; saved to {out}" if out else ""))
    elif out:
        click.echo(f"saved the definition to {out}; X^f is re-counted exactly when loaded "
                   f"(flat list would need {flat:,} B)")


@click.command("sample")
@click.argument("tree_file", type=click.Path(dir_okay=False))
@click.option("--pool", type=int, default=200_000, show_default=True,
              help="Uniform pool for entropy clusters when X^f is counted, not listed.")
@click.option("-n", "count", type=int, default=10, show_default=True)
@click.option("--strategy", type=click.Choice(["entropy", "uniform"]), default="entropy",
              show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--clusters", type=int, default=100, show_default=True, help="k-means clusters.")
@click.option("--p", "p", type=float, default=0.5, show_default=True, help="Eq. 7 parameter.")
@click.option("--replace", is_flag=True, help="Draw with replacement.")
@click.option("--output", type=click.Choice(["network", "last_searched"]), default="network",
              show_default=True, help="u_L of Eq. 6.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def sample_cmd(tree_file: str, pool: int, count: int, strategy: str, seed: int, clusters: int,
               p: float, replace: bool, output: str, as_json: bool) -> None:
    """Draw architectures from a saved feasible set (from `entronas reduce --out`)."""
    import numpy as np

    from ..cost import CostOptions, estimate
    from ..proxy import entropies
    from ..reduce import load_feasible
    from ..sampling import build_sampler

    tree = load_feasible(tree_file)
    if count < 1:
        raise InvalidParameterError(f"-n must be >= 1, got {count}")
    if not replace and count > len(tree):
        raise InvalidParameterError(f"-n {count} exceeds |X^f| = {len(tree)}; use --replace")
    sampler = build_sampler(strategy, tree, n_clusters=clusters, p=p, output=output,
                            pool_size=pool, seed=seed)
    rng = np.random.default_rng(seed)
    taken: set[int] = set()
    options = CostOptions.from_dict(tree.meta.get("options", {}))
    if not as_json:
        click.echo(f"{'index':>9} {'cluster':>7} {'entropy':>9} {'ROM':>10} {'RAM':>9} "
                   f"{'FLOPs':>13}  widths")
    for _ in range(count):
        i = sampler.suggest(rng, () if replace else taken)
        taken.add(i)
        widths = tree.widths_of([i])[0]
        c = estimate(tree.space, widths, options)
        h = float(entropies(tree.space, np.array([widths]), output=output)[0])
        cl = sampler.cluster_of(i)
        if as_json:
            click.echo(json.dumps({"index": int(i), "widths": list(widths), "rom": c.rom,
                                   "ram": c.ram, "flops": c.flops, "entropy": h,
                                   "cluster": cl}))
        else:
            click.echo(f"{i:>9} {'-' if cl is None else cl:>7} {h:>9.2f} {c.rom:>10,} "
                       f"{c.ram:>9,} {c.flops:>13,}  {','.join(map(str, widths))}")


@click.command()
def datasets() -> None:
    """List the datasets, their size, licence and whether they are here."""
    from ..data import dataset_info, default_root, is_installed, list_datasets

    root = default_root()
    click.echo(f"data root: {root}  (set ENTRONAS_DATA to change)")
    for name in list_datasets():
        info = dataset_info(name)
        size = info.get("bytes") or 0
        size_text = f"{size / 1e6:,.0f} MB" if size else "bundled"
        here = "bundled" if not size else (
            "installed" if is_installed(name) else
            f"missing: {info.get('download_command', f'entronas download {name}')}")
        click.echo(f"{name:10} {size_text:>10}  {here:32}  {info.get('licence', '')}")


@click.command()
@click.argument("name")
@click.option("--root", type=click.Path(file_okay=False), help="Data root (default: ENTRONAS_DATA "
              "or ~/.cache/entronas/datasets).")
def download(name: str, root: str | None) -> None:
    """Download, verify and extract a dataset."""
    from ..data import download_dataset

    path = download_dataset(name, root=None if root is None else Path(root))
    click.echo(f"{name}: ready in {path}")
