"""`entronas search`, `entronas report`, `entronas export-best`: the search composition root.

Each command parses flags, makes one library call and prints: the settings become a
:class:`~entronas.search.SearchConfig` (an experiment YAML gives the defaults, explicit flags
override it), which resolves into the run record that every later step reads back.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from ..sampling.surrogate import DEFAULT_MODEL, DEFAULT_N_STARTUP, DEFAULT_START, MODELS, STARTS
from ..targets.base import fmt_size
from .options import cost_options, fit_line, target_options


def _echo(msg: str) -> None:
    click.echo(msg, err=True)


@click.command("search")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Experiment YAML (keys as the flags); explicit flags override it.")
@click.option("--space", default=None,
              help="Search space: a preset (see `entronas spaces`) or a space file. "
                   "Default: the offline demo's mlp-digits.")
@target_options("Default: the demo's STM32G071 share (48 KiB ROM, 2,304 B RAM); a named "
                "target uses its own budgets unless --rom/--ram are given.")
@cost_options
@click.option("--candidates", default=None, type=click.Path(dir_okay=False),
              help="Search the X^f of this `entronas reduce --out` file (its space, target "
                   "and costs) instead of reducing again.")
@click.option("--dataset", default=None, help="Data set to train on (default digits).")
@click.option("--strategy", default=None,
              help="entropy | random | tpe | greedy | bo (default entropy).")
@click.option("--trials", "-k", type=int, default=None,
              help="Trained candidates K in total; a rerun resumes up to K (default 20).")
@click.option("--epochs", type=int, default=None, help="Training epochs (default 30).")
@click.option("--seed", type=int, default=None, help="Root seed (default 0).")
@click.option("--storage", default=None,
              help="Optuna storage URL (sqlite:///F.db, postgresql://..., journal:FILE); "
                   "default: RUN_DIR/study.journal.")
@click.option("--study", default=None, help="Study name (default from the settings).")
@click.option("--run-dir", default=None, help="Run directory (default runs/<study>).")
@click.option("--evaluator", default=None, help="train | table:FILE.csv (default train).")
@click.option("--table-missing", type=click.Choice(["error", "skip"]), default=None,
              help="Table evaluator: an architecture not in the table (default error).")
@click.option("--duplicates", type=click.Choice(["reuse", "retrain"]), default=None,
              help="A candidate trained before and proposed again (TPE): reuse its score "
                   "without training (default; not a sample), or train it again.")
@click.option("--n-clusters", type=int, default=None, help="Entropy clusters (default 100).")
@click.option("--p", type=float, default=None, help="Eq. (7) parameter (default 0.5).")
@click.option("--cost", type=click.Choice(["macs", "params", "entropy"]), default=None,
              help="greedy: the cost to take largest first (default macs).")
@click.option("--model", type=click.Choice(list(MODELS)), default=None,
              help=f"bo: the surrogate (default {DEFAULT_MODEL}).")
@click.option("--n-startup", type=int, default=None,
              help="bo: start-up trials before the surrogate takes over (default "
                   f"{DEFAULT_N_STARTUP}).")
@click.option("--startup", type=click.Choice(list(STARTS)), default=None,
              help="bo: how start-up trials are drawn: greedy (the most MACs first, then "
                   f"entropy sampling) or entropy (default {DEFAULT_START}).")
@click.option("--encoding", type=click.Choice(["categorical", "int"]), default=None,
              help="TPE: each width a categorical choice (default, as the paper) or an "
                   "ordered integer.")
@click.option("--device", default="auto", show_default=True, help="Training device.")
@click.option("--threads", type=int, default=None,
              help="CPU threads per training (default: 1 for networks whose batch needs "
                   "fewer than 50 M FLOPs, else torch's count).")
@click.option("--quiet", "-q", is_flag=True, help="No per-trial progress lines.")
@click.option("--measure", is_flag=True,
              help="Export the best model to TFLite in the run's dtype and measure it in "
                   "TFLite Micro next to the estimate; needs the 'export' extra.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def search_cmd(config_path: str | None, device: str, threads: int | None, quiet: bool,
               measure: bool, as_json: bool, **flags: Any) -> None:
    """Search X^f for the most accurate network that fits the target.

    With no arguments: a small real search on the offline digits data (mlp-digits on a
    48 KiB flash / 2,304 B RAM share of an STM32G071, counted as deployed in TensorFlow Lite
    Micro, entropy sampling, 20 candidates x 30 epochs, about 10 s on 2 CPU cores).
    """
    from ..search.config import SearchConfig, load_config
    from ..search.evaluators import make_evaluator
    from ..search.pipeline import run_search

    data: dict[str, Any] = load_config(config_path) if config_path else {}
    flags["target"] = flags.pop("target_name")
    old = flags.pop("ram_overhead")
    if old is not None and flags.get("ram_reserve") is None:
        flags["ram_reserve"] = old
    if flags.pop("tflm"):
        flags["costs"] = "tflm"
    for key, value in flags.items():
        if value is not None:
            data[key] = value
    cfg = SearchConfig.from_dict(data)
    record = cfg.resolve()  # every setting is checked before any work starts
    evaluate, save = make_evaluator(record, device=device, threads=threads)
    t0 = time.perf_counter()
    try:
        result = run_search(record, evaluate, run_dir=cfg.resolved_run_dir(),
                            save_artifacts=save, log=_echo, progress=not quiet)
    except KeyboardInterrupt:
        _echo(f"interrupted: every finished trial is kept in {cfg.resolved_run_dir()}; run the "
              "same command again to resume")
        raise click.exceptions.Exit(130) from None
    wall = time.perf_counter() - t0
    s = result.summary()
    b = s["best"]
    lines = [f"run dir:  {result.run_dir}", f"study:    {s['study']}  ({s['storage']})",
             f"trained:  {s['completed']}/{record.trials}  (infeasible proposals: "
             f"{s['infeasible']}), {wall:.1f} s"]
    if s["exhausted"]:
        lines.append(f"          X^f has only {result.candidates.feasible.size:,} members and "
                     "all of them are trained: the search is complete")
    deployment = None
    if b is not None:
        metrics = b["metrics"]
        if "accuracy" in metrics and "val_accuracy" in metrics:
            scores = (f"val accuracy {metrics['val_accuracy']:.4f} (selected on), "
                      f"test accuracy {metrics['accuracy']:.4f}")
        else:
            name = "accuracy" if "accuracy" in metrics else "auc" if "auc" in metrics else "score"
            scores = f"{name} {b['score']:.4f}"
        lines += [f"best:     trial #{b['trial']}  {record.space.name}"
                  f"[{'-'.join(map(str, b['widths']))}]  {scores}",
                  f"          ROM {fmt_size(b['rom'])}  RAM {fmt_size(b['ram'])}  "
                  f"FLOPs {b['flops']:,}",
                  fit_line(record.target, b["rom"], b["ram"], b["flops"], record.costs,
                           "estimate")]
        from ..runs.rundir import RunDir

        best = RunDir(result.run_dir).read_best()
        lines.append(f"exported: {RunDir(result.run_dir).best} (arch, resources"
                     + (", weights" if best.state_dict else "") + ")")
        if measure:
            deployment = _measure(result)
            lines += deployment["lines"]
        try:
            from ..report import make_report

            rep = make_report([result.run_dir], result.run_dir / "report")
            lines.append(f"report:   {rep['plots'][0] if rep['plots'] else rep['dir']}")
        except Exception as exc:  # plotting is a nicety; the search result stands
            lines.append(f"report:   not written ({exc})")
    if as_json:
        out = dict(s, run_dir=str(result.run_dir), seconds=wall,
                   deployment=None if deployment is None else deployment["report"])
        click.echo(json.dumps(out, indent=2, default=str))
        return
    click.echo("\n".join(lines))


def _measure(result: Any) -> dict[str, Any]:
    """Export the best trial in the run's dtype and measure it in TFLM (estimate alongside)."""
    from ..export.deploy import deploy_report
    from ..runs.rundir import RunDir

    rd = RunDir(result.run_dir)
    best = rd.read_best()
    rep = deploy_report(best, record=result.record)
    rd.write_deployment(rep)
    return {"report": rep, "lines": rep["lines"]}


@click.command("report")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--out", "-o", default="report", show_default=True, help="Output directory.")
@click.option("--reference", "references", multiple=True,
              help="Reference row 'NAME:SCORE:ROM:RAM:FLOPS' (ROM/RAM in bytes or 10KB).")
@click.option("--title", default=None)
def report_cmd(run_dirs: tuple[str, ...], out: str, references: tuple[str, ...],
               title: str | None) -> None:
    """Plots (best score after k samples, over time) and a Table I-style table of runs."""
    from ..report import make_report, parse_reference

    refs = [parse_reference(r) for r in references]
    rep = make_report([Path(d) for d in run_dirs], Path(out), references=refs, title=title)
    for p in rep["plots"] + rep["tables"]:
        click.echo(str(p))


@click.command("export-best")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--trial", type=int, default=None, help="Trial number (default: the best).")
@click.option("--out", "-o", default=None, help="Output dir (default RUN_DIR/best).")
def export_cmd(run_dir: str, trial: int | None, out: str | None) -> None:
    """Write arch.json + resources.json (+ model.pt if saved) for the best or a given trial,
    counted as the run counted (its convention, target and reserves)."""
    from ..runs.rundir import RunDir
    from ..search.best import export_best

    path = export_best(run_dir, trial=trial, out=out)
    res = RunDir(run_dir).read_resources(path)
    arch = RunDir(run_dir).read_best(path)
    click.echo(str(path))
    click.echo(fit_line(arch.target, res["rom"], res["ram"], res["flops"], arch.costs,
                        "estimate"))


def register(group: click.Group) -> None:
    group.add_command(search_cmd)
    group.add_command(report_cmd)
    group.add_command(export_cmd)
