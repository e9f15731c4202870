"""Core commands: spaces, targets, estimate, reduce, sample, datasets, download."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from .._core.errors import InvalidParameterError
from ..targets.base import fmt_bytes
from .options import cost_options, fit_line, parse_widths, reserves, resolve_counting, \
    target_options


def register(cli: click.Group) -> None:
    for cmd in (spaces, targets, references, estimate_cmd, reduce_cmd, sample_cmd, datasets,
                download):
        cli.add_command(cmd)


@click.command()
@click.option("--pattern", default="*", help="Glob filter on names.")
@click.option("--show", "show", metavar="NAME", default=None,
              help="Print the space file of the preset NAME (copy it to start your own).")
def spaces(pattern: str, show: str | None) -> None:
    """List the built-in search spaces with their |X| (each is a space file; --show prints one)."""
    from ..space import DESCRIPTIONS, get_space, list_spaces
    from ..space.presets import preset_file

    if show is not None:
        path = preset_file(show)   # an unknown name: one line with a close match
        if path is None:
            raise click.UsageError(f"space {show!r} is registered in Python, not a file")
        click.echo(f"# {path}\n{path.read_text()}", nl=False)
        return
    click.echo(f"{'space':20} {'depth':>6} {'|X|':>22}  description")
    for name in list_spaces(pattern):
        s = get_space(name)
        click.echo(f"{name:20} {f'{s.depth_min}..{s.depth_max}':>6} {s.size():>22,}  "
                   f"{DESCRIPTIONS.get(name, '')}")


@click.command()
@click.option("--dtype", type=click.Choice(["float32", "int8"]), default="int8",
              show_default=True, help="Data type of the deployed (tflm) figures.")
def references(dtype: str) -> None:
    """List the named reference architectures: parameters, MACs, and their deployed size."""
    from ..cost import CostOptions, costs, estimate
    from ..space.references import REFERENCES, get_reference

    click.echo(f"{'reference':24} {'space':18} {'params':>9} {'MACs':>12} "
               f"{'.tflite':>10} {'TFLM arena':>11}  widths  (tflm {dtype})")
    for name in REFERENCES.names():
        space, arch = get_reference(name)
        params = estimate(space, arch, CostOptions(bias=True)).weights
        macs = estimate(space, arch, costs("paper")).flops // 2
        try:
            dep = estimate(space, arch, costs("tflm", dtype))
            rom, ram = f"{dep.rom:,}", f"{dep.ram:,}"
        except Exception:  # noqa: BLE001 - e.g. an op TFLM lacks
            rom = ram = "-"
        click.echo(f"{name:24} {space.name:18} {params:>9,} {macs:>12,} {rom:>10} {ram:>11}  "
                   f"{arch.key()}")


@click.command()
def targets() -> None:
    """List the MCU presets: budgets, reserves kept for runtime code and the application (chosen
    allowances, not measurements), and the default cost convention."""
    from ..targets import TARGETS, get_target

    click.echo(f"{'target':26} {'ROM':>12} {'RAM':>10} {'reserve ROM/RAM':>18} {'costs':>6}  "
               "description")
    for name in TARGETS.names():
        t = get_target(name)
        res = f"{fmt_bytes(t.rom_reserve)} / {fmt_bytes(t.ram_reserve)}"
        click.echo(f"{name:26} {fmt_bytes(t.rom):>12} {fmt_bytes(t.ram):>10} {res:>18} "
                   f"{t.costs:>6}  {t.description}")


@click.command("estimate")
@click.argument("space")
@click.option("--arch", "-a", required=True, help="Widths, e.g. 84,112,84,84,84,196.")
@target_options("With a target, the fit line is printed.")
@cost_options
@click.option("--json", "as_json", is_flag=True, help="Print the estimate as JSON.")
def estimate_cmd(space: str, arch: str, as_json: bool, **kw: Any) -> None:
    """Per-layer ROM/RAM/FLOPs of one architecture, under a named cost convention."""
    from ..cost import estimate
    from ..proxy import entropy

    res = reserves(kw)
    sp, target, options = resolve_counting(space, need_target=False, **res, **kw)
    widths = sp.check_arch(parse_widths(arch))
    c = estimate(sp, widths, options)
    h = entropy(sp, widths)
    if as_json:
        data = {**c.to_dict(), "space": sp.name, "widths": list(widths), "entropy": h,
                "per_layer": [dict(r, out_shape=list(r["out_shape"])) for r in c.per_layer],
                "target": None if target is None else target.to_dict(),
                "fits": None if target is None else target.fits(c.rom, c.ram, c.flops)}
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{sp.name}[{'-'.join(map(str, widths))}] counted as {options.describe()}")
    click.echo(f"{'layer':12} {'kind':10} {'output':>16} {'u_i':>9} {'weights':>9} "
               f"{'ROM':>10} {'FLOPs':>12}")
    for row in c.per_layer:
        click.echo(f"{row['name']:12} {row['kind']:10} {'x'.join(map(str, row['out_shape'])):>16} "
                   f"{row['outputs']:>9,} {row['weights']:>9,} {row['rom']:>10,} "
                   f"{row['flops']:>12,}")
    click.echo(f"total: ROM {c.rom:,} B   RAM {c.ram:,} B   FLOPs {c.flops:,}   "
               f"entropy {h:.2f}   counted as {options.describe()}")
    if target is not None:
        click.echo(fit_line(target, c.rom, c.ram, c.flops, options))


@click.command("reduce")
@click.argument("space")
@target_options()
@cost_options
@click.option("--method", type=click.Choice(["auto", "enumerate", "count"]), default="auto",
              show_default=True, help="auto: X^f as a tree (built as its DAG where the costs "
              "allow, else enumerated; too many to list: counted, then built as its DAG from "
              "the counts where that stays small); enumerate; count: keep the exact counts only.")
@click.option("--out", "-o", type=click.Path(dir_okay=False), help="Save the tree file here.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def reduce_cmd(space: str, method: str, out: str | None, as_json: bool, **kw: Any) -> None:
    """Reduce SPACE (a name or a .toml/.yaml file) to the networks that fit the target."""
    from ..reduce import FeasibleTree, reduce_space, save_feasible
    from ..reduce.reduce import count_progress

    res = reserves(kw)
    sp, target, options = resolve_counting(space, **res, **kw)
    t0 = time.perf_counter()
    feasible, report = reduce_space(  # a long count's progress on stderr; the table is stdout
        sp, target, options, method=method,
        progress=count_progress(lambda line: click.echo(line, err=True)))
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
    click.echo(f"costs {options.describe()}")
    named = dimension_names(sp)
    if named:   # a space of named dimensions: its one "depth" is the number of dimensions
        click.echo(f"dimensions ({len(named)}, the values in this order): {', '.join(named)}")
    click.echo(f"{'L':>3} {'|X_L|':>20} {'|X^f_L|':>18}  {'time':>8}  M^red")
    for d in report.depths:
        mred = "-" if d.m_red is None else ",".join(map(str, d.m_red))
        note = "" if d.lower_bound_ok else "   (smallest network does not fit)"
        click.echo(f"{d.depth:>3} {d.size:>20,} {d.feasible:>18,}  {d.seconds:>7.3f}s  "
                   f"{mred}{note}")
    share = 100 * report.feasible / report.size
    counting = f" (counting all depths: {report.count_seconds:.3f} s" + (
        f", building the DAG: {report.dag_seconds:.3f} s)" if report.method == "count+dag"
        else ")") if report.method.startswith("count") else ""
    click.echo(f"total |X^f| = {report.feasible:,} ({share:.3g} % of X), {report.method}, "
               f"{elapsed:.3f} s{counting}, {options.describe()}")
    if report.conservative:
        click.echo("conservative count: too many to list, so counted with a proven upper bound "
                   "of TFLM's arena; every counted network fits, a few that fit may be missing")
    if tree_bytes is not None:
        click.echo(f"storage: tree {tree_bytes:,} B ({feasible.n_nodes:,} nodes) vs flat list "
                   f"{flat:,} B (int32 widths)" + (f"; saved to {out}" if out else ""))
    elif out:
        click.echo(f"saved the definition to {out}; X^f is re-counted exactly when loaded "
                   f"(flat list would need {flat:,} B)")


@click.command("sample")
@click.argument("tree_file", type=click.Path(dir_okay=False))
@click.option("--pool", type=int, default=200_000, show_default=True,
              help="Uniform pool of a set too large to list, where it has no exact entropy "
                   "distribution (e.g. counts above int64): the clusters are fitted on it.")
@click.option("-n", "count", type=int, default=10, show_default=True)
@click.option("--strategy", type=click.Choice(["entropy", "uniform"]), default="entropy",
              show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--n-clusters", "--clusters", "clusters", type=int, default=100, show_default=True,
              help="k-means clusters (the same flag as `entronas search --n-clusters`).")
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
    from ..sampling import Candidates

    if count < 1:
        raise InvalidParameterError(f"-n must be >= 1, got {count}")
    cands = Candidates.load(tree_file, n_clusters=clusters, output=output, pool=pool,
                            seed=seed, log=lambda m: click.echo(m, err=True))
    tree = cands.feasible
    if not replace and count > tree.size:
        raise InvalidParameterError(f"-n {count} exceeds |X^f| = {tree.size:,}; use --replace")
    policy = cands.policy(strategy, **({"p": p} if strategy == "entropy" else {}))
    rng = np.random.default_rng(seed)
    options = CostOptions.from_dict(tree.meta.get("options", {}))
    if not as_json:
        click.echo(f"# {options.describe()}")
        click.echo(f"{'index':>12} {'cluster':>7} {'entropy':>9} {'ROM':>10} {'RAM':>9} "
                   f"{'FLOPs':>13}  " + (",".join(dimension_names(tree.space)) or "widths"))
    picks = None if replace else policy.draws(rng, count)
    if picks is not None and len(picks) < count:
        raise InvalidParameterError(
            f"-n {count} exceeds the {len(picks):,} candidates (a pool of the counted X^f); "
            f"raise --pool or use --replace")
    if picks is None:
        picks = [policy.suggest(rng, ()) for _ in range(count)]
    hs, cls = cands.entropies_at(picks)
    for i, widths, h, cl in zip(picks, tree.widths_of(picks), hs.tolist(), cls.tolist()):
        c = estimate(tree.space, widths, options)
        if as_json:
            click.echo(json.dumps({"index": int(i), "widths": list(widths), "rom": c.rom,
                                   "ram": c.ram, "flops": c.flops, "entropy": h,
                                   "cluster": cl, "costs": options.describe()}))
        else:
            click.echo(f"{i:>12} {cl:>7} {h:>9.2f} {c.rom:>10,} "
                       f"{c.ram:>9,} {c.flops:>13,}  {','.join(map(str, widths))}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def datasets(as_json: bool) -> None:
    """List the datasets, their size, licence and whether they are here."""
    from ..data import dataset_info, default_root, is_installed, list_datasets

    root = default_root()
    rows = []
    for name in list_datasets():
        info = dataset_info(name)
        size = info.get("bytes") or 0
        status = "bundled" if not size else ("installed" if is_installed(name) else "missing")
        rows.append({"name": name, "bytes": size, "status": status,
                     "download_command": None if status != "missing" else
                     info.get("download_command", f"entronas download {name}"),
                     "licence": info.get("licence", "")})
    if as_json:
        click.echo(json.dumps({"root": str(root), "datasets": rows}, indent=2))
        return
    click.echo(f"data root: {root}  (set ENTRONAS_DATA to change)")
    for r in rows:
        size_text = f"{r['bytes'] / 1e6:,.0f} MB" if r["bytes"] else "bundled"
        here = r["status"] if r["status"] != "missing" else f"missing: {r['download_command']}"
        click.echo(f"{r['name']:10} {size_text:>10}  {here:32}  {r['licence']}")


@click.command()
@click.argument("name")
@click.option("--root", type=click.Path(file_okay=False), help="Data root (default: ENTRONAS_DATA "
              "or ~/.cache/entronas/datasets).")
def download(name: str, root: str | None) -> None:
    """Download, verify and extract a dataset."""
    from ..data import download_dataset

    path = download_dataset(name, root=None if root is None else Path(root))
    click.echo(f"{name}: ready in {path}")


def dimension_names(space) -> list[str]:
    """The searched dimensions' names of a space of named dimensions (none for a chain)."""
    from ..space.dimensions import dimensions_of

    return [d.name for d in dimensions_of(space)]
