"""``entronas bench-strategies``: which strategy finds the best network in fewest samples?"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import click

from .options import cost_options, reserves, target_options


def register(cli: click.Group) -> None:
    cli.add_command(bench_cmd)


@click.command("bench-strategies")
@click.argument("table", type=click.Path(dir_okay=False))
@click.option("--space", required=True, help="The space the table was built for.")
@target_options("The budget the strategies search under (a subset of the table's).")
@cost_options
@click.option("--strategies", default="entropy,random,tpe,greedy,bo", show_default=True,
              help="Comma-separated; parameters after a colon, e.g. bo:model=rf,n_startup=5.")
@click.option("--reps", type=int, default=100, show_default=True,
              help="Repetitions (seeds) per strategy.")
@click.option("-k", "k", type=int, default=100, show_default=True, help="Samples per run.")
@click.option("--jobs", type=int, default=1, show_default=True, help="Processes.")
@click.option("--n-clusters", type=int, default=100, show_default=True)
@click.option("--out", "-o", default="bench", show_default=True, help="Output directory.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def bench_cmd(table: str, space: str, strategies: str, reps: int, k: int, jobs: int,
              n_clusters: int, out: str, as_json: bool, **kw: Any) -> None:
    """Run every strategy REPS times for K samples on a complete TABLE (every member of X^f
    trained with several seeds, from benchmarks/build_table.py): each sample is scored by one
    seed's accuracy, each run's incumbent judged by its mean accuracy. Writes curves.csv,
    summary.md and strategies.png to OUT."""
    from .._core.validation import check_number
    from ..report.strategies import plot_strategies
    from ..search.bench import bench_strategies, split_strategies
    from ..search.config import SearchConfig

    for name, value, lo in (("reps", reps, 1), ("k", k, 1), ("jobs", jobs, 1)):
        check_number(value, name, "entronas bench-strategies", lo=lo, integer=True)
    res_kw = reserves(kw)
    settings = {"space": space, "target": kw["target_name"], "rom": kw["rom"], "ram": kw["ram"],
                "flops": kw["flops"], "costs": "tflm" if kw["tflm"] else kw["costs"],
                "dtype": kw["dtype"], "bias": kw["bias"], "ram_model": kw["ram_model"],
                "evaluator": f"table:{table}", "n_clusters": n_clusters, **res_kw}
    record = SearchConfig.from_dict({k_: v for k_, v in settings.items()
                                     if v is not None}).resolve()
    names = split_strategies(strategies)
    result = bench_strategies(record, table, names, reps=reps, k=k, jobs=jobs,
                              progress=lambda m: click.echo(m, err=True))
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "curves.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["strategy", "k", "mean", "se", "regret"])
        for c in result.curves:
            for i, (m, se) in enumerate(zip(c.mean, c.se), 1):
                w.writerow([c.strategy, i, f"{m:.6f}", f"{se:.6f}",
                            f"{result.optimum - m:.6f}"])
    md = result.markdown()
    (out_dir / "summary.md").write_text(md + "\n")
    plot = plot_strategies(result, out_dir / "strategies.png")
    if as_json:
        click.echo(json.dumps({"space": result.space, "target": result.target,
                               "feasible": result.feasible, "optimum": result.optimum,
                               "rows": result.rows()}, indent=2))
        return
    click.echo(md)
    click.echo(f"wrote {out_dir / 'curves.csv'}, {out_dir / 'summary.md'}, {plot}")
