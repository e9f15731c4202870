"""`entronas search`, `entronas report`, `entronas export-best`: the search composition root.

The search package never imports torch; here the training evaluator (``entronas.train``) or a
tabular evaluator is built and handed to :func:`entronas.search.run_search`, and the trained
weights that the evaluator returns are saved as ``<run_dir>/trials/<n>/model.pt``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping

import click

from .._core.fileio import atomic_torch_save, atomic_write_json
from ..targets.base import fmt_size

#: keys of SearchConfig that have a CLI flag of the same name
_FLAGS = ("space", "target", "rom", "ram", "flops", "dataset", "strategy", "trials", "epochs",
          "seed", "storage", "study", "run_dir", "evaluator", "n_clusters", "p", "duplicates")


def _echo(msg: str) -> None:
    click.echo(msg, err=True)


def build_evaluator(cfg: Any, space: Any, *, device: str = "auto", table_missing: str = "error"
                    ) -> tuple[Any, Any]:
    """(evaluate, save_artifacts) for ``cfg.evaluator`` ("train" or "table:FILE.csv")."""
    spec = str(cfg.evaluator)
    if spec.startswith("table:"):
        from ..search.table import TableEvaluator

        return TableEvaluator(spec[len("table:"):], missing=table_missing), None
    if spec != "train":
        from ..search.errors import SearchError

        raise SearchError(f"unknown evaluator {spec!r}; use 'train' or 'table:FILE.csv'")
    from .._core.imports import require

    require("torch", "torch", "training candidates (or use --evaluator table:FILE.csv)")
    from ..data import get_dataset
    from ..train import make_evaluator

    kw = {"device": device, **dict(cfg.train or {})}
    evaluate = make_evaluator(space, get_dataset(cfg.dataset), epochs=cfg.epochs,
                              keep_weights=True, **kw)
    return evaluate, save_torch_artifacts


def save_torch_artifacts(trial_dir: Path, extra: Mapping[str, Any]) -> None:
    """state_dict -> model.pt (torch.save), everything else -> extra.json; atomic writes."""
    trial_dir.mkdir(parents=True, exist_ok=True)
    rest = {k: v for k, v in extra.items() if k != "state_dict"}
    if "state_dict" in extra:
        atomic_torch_save(trial_dir / "model.pt", extra["state_dict"])
    if rest:
        atomic_write_json(trial_dir / "extra.json", rest, indent=1)


def measure_best(run_dir: Path, space: Any, cfg: Any, widths: Any) -> list[str]:
    """Export the best trial and measure it in TFLM: estimated vs measured, side by side."""
    from .._core.errors import EntronasError
    from ..export import measure as export_measure
    from ..export.data import dataset_arrays

    best = Path(run_dir) / "best"
    state = best / "model.pt"
    try:
        calibration = dataset_arrays(space, cfg.dataset, n_train=128)["x_train"]
    except (EntronasError, ValueError):  # no data, or not this space's: random inputs
        calibration = None
    report, lines = {}, []
    for dtype in ("float32", "int8"):
        r = export_measure(space, widths, state_dict=state if state.exists() else None,
                           dtype=dtype, calibration=calibration)
        r.pop("_model", None)
        report[dtype] = r
        m, e = r["measured"], r["estimate"]
        lines.append(f"deploy {dtype:7}: flatbuffer {m['flatbuffer']:,} B (estimate "
                     f"{e['rom_refined']:,}); TFLM planned {m['head']:,} B (predicted "
                     f"{e['ram_tflm_plan']:,}, live peak {e['ram_op_graph']:,}, Eq. 4 "
                     f"{e['ram_eq4']:,}) + {m['tail']:,} B "
                     f"persistent, smallest arena {m.get('min_arena') or '?':,} B")
    atomic_write_json(best / "deployment.json", report)
    return lines


@click.command("search")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Experiment YAML (keys as the flags); explicit flags override it.")
@click.option("--space", default="mlp-digits", show_default=True, help="Search space preset.")
@click.option("--target", "-t", default="stm32g071", show_default=True,
              help="MCU target preset.")
@click.option("--rom", default="24KiB", show_default=True,
              help="ROM budget override ('none' keeps the target's). With --target given, the "
                   "target's own budget is used unless --rom is given too.")
@click.option("--ram", default="640B", show_default=True,
              help="RAM budget override ('none' keeps the target's). With --target given, the "
                   "target's own budget is used unless --ram is given too.")
@click.option("--flops", default=None, help="FLOPs budget.")
@click.option("--dataset", default="digits", show_default=True)
@click.option("--strategy", default="entropy", show_default=True,
              help="entropy | random | tpe")
@click.option("--trials", "-k", type=int, default=20, show_default=True,
              help="Trained candidates K in total (a rerun resumes up to K).")
@click.option("--epochs", type=int, default=30, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--storage", default=None,
              help="Optuna storage URL (sqlite:///F.db, postgresql://..., journal:FILE); "
                   "default: RUN_DIR/study.journal.")
@click.option("--study", default=None, help="Study name (default from the settings).")
@click.option("--run-dir", default=None, help="Run directory (default runs/<study>).")
@click.option("--evaluator", default="train", show_default=True,
              help="train | table:FILE.csv")
@click.option("--table-missing", type=click.Choice(["error", "skip"]), default="error",
              show_default=True, help="Table evaluator: an architecture not in the table.")
@click.option("--duplicates", type=click.Choice(["reuse", "retrain"]), default="reuse",
              show_default=True,
              help="A candidate trained before and proposed again (TPE): reuse its score "
                   "without training (not a sample), or train it again with a new seed.")
@click.option("--n-clusters", type=int, default=100, show_default=True)
@click.option("--p", type=float, default=0.5, show_default=True, help="Eq. (7) parameter.")
@click.option("--device", default="auto", show_default=True, help="Training device.")
@click.option("--quiet", "-q", is_flag=True, help="No per-trial progress lines.")
@click.option("--measure", is_flag=True,
              help="Export the best model to TFLite (float32, int8) and measure it in TFLite "
                   "Micro; needs the 'export' extra. Written to RUN_DIR/best/deployment.json.")
@click.pass_context
def search_cmd(ctx: click.Context, config_path: str | None, device: str, quiet: bool,
               table_missing: str, measure: bool, **flags: Any) -> None:
    """Search X^f for the most accurate network that fits the target.

    With no arguments: a small real search on the offline digits data (mlp-digits on an
    STM32G071 with a 24 KiB ROM / 640 B activation-RAM budget, entropy sampling,
    20 candidates x 30 epochs, about 15 s on 2 CPU cores).
    """
    from ..search.run import SearchConfig, load_config, run_search

    data: dict[str, Any] = load_config(config_path) if config_path else {}
    given = set(data)
    for key in _FLAGS:
        src = ctx.get_parameter_source(key)
        explicit = src is not None and src.name not in ("DEFAULT", "DEFAULT_MAP")
        if explicit:
            given.add(key)
        if explicit or key not in data:
            data[key] = flags[key]
    if "target" in given:  # the demo's budget overrides belong to the demo target only
        for key in ("rom", "ram"):
            if key not in given:
                data[key] = None
    for key in ("rom", "ram", "flops"):
        if isinstance(data.get(key), str) and data[key].lower() in ("none", "target", ""):
            data[key] = None
    cfg = SearchConfig.from_dict(data).check()
    space = cfg.make_space()
    evaluate, save = build_evaluator(cfg, space, device=device, table_missing=table_missing)
    t0 = time.perf_counter()
    result = run_search(cfg, evaluate, save_artifacts=save, log=_echo, progress=not quiet)
    wall = time.perf_counter() - t0
    s = result.summary()
    b = s["best"]
    out = [f"run dir:  {result.run_dir}", f"study:    {s['study']}  ({s['storage']})",
           f"trained:  {s['completed']}/{cfg.trials}  (infeasible proposals: "
           f"{s['infeasible']}), {wall:.1f} s"]
    if b is not None:
        metrics = b["metrics"]
        if "accuracy" in metrics and "val_accuracy" in metrics:
            scores = (f"val accuracy {metrics['val_accuracy']:.4f} (selected on), "
                      f"test accuracy {metrics['accuracy']:.4f}")
        else:
            name = "accuracy" if "accuracy" in metrics else "auc" if "auc" in metrics else "score"
            scores = f"{name} {b['score']:.4f}"
        out += [f"best:     trial #{b['trial']}  {cfg.space}[{'-'.join(map(str, b['widths']))}]"
                f"  {scores}",
                f"          ROM {fmt_size(b['rom'])}  RAM {fmt_size(b['ram'])}  "
                f"FLOPs {b['flops']:,}  on {result.prepared.target.describe()}",
                f"exported: {result.run_dir / 'best'} (arch.json, resources.json"
                + (", model.pt" if (result.run_dir / 'best' / 'model.pt').exists() else "")
                + ")"]
        if measure:
            out += measure_best(result.run_dir, space, cfg, b["widths"])
        try:
            from ..report import make_report

            rep = make_report([result.run_dir], result.run_dir / "report")
            out.append(f"report:   {rep['plots'][0] if rep['plots'] else rep['dir']}")
        except Exception as exc:  # plotting is a nicety; the search result stands
            out.append(f"report:   not written ({exc})")
    click.echo("\n".join(out))


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
    """Write arch.json + resources.json (+ model.pt if saved) for the best or a given trial."""
    from ..search.export import export_best

    click.echo(str(export_best(run_dir, trial=trial, out=out)))


def register(group: click.Group) -> None:
    group.add_command(search_cmd)
    group.add_command(report_cmd)
    group.add_command(export_cmd)
