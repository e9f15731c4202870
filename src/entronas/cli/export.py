"""``entronas export``: deploy a found network (TFLite float32/int8, C sources, memory report)."""

from __future__ import annotations

import math
from typing import Any

import click

from .options import target_options


def register(cli: click.Group) -> None:
    cli.add_command(export_cmd)


@click.command("export")
@click.argument("source", type=click.Path(path_type=str))
@click.option("--format", "fmt", default="tflite", show_default=True,
              help="tflite | tflite-int8 | onnx | c")
@click.option("--out", type=click.Path(path_type=str), default=None,
              help="Output directory (default: <run or arch dir>/export/<dtype>).")
@click.option("--dtype", default=None, help="float32 or int8 (tflite: float32, c: int8).")
@click.option("--calibration", default=64, show_default=True, type=int,
              help="int8 without a data set: number of random normal calibration inputs.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--no-bisect", is_flag=True, help="Skip the smallest-arena search.")
@click.option("--per-channel-fc", is_flag=True,
              help="int8: per-channel FC weights (more ROM and arena in TFLM).")
@click.option("--runtime", type=click.Choice(["tflm", "litert"]), default="tflm",
              show_default=True,
              help="tflm: check the ops and measure in TFLite Micro; litert: write the file "
                   "for LiteRT only (e.g. a GELU ConvMixer).")
@click.option("--dataset", default=None,
              help="Calibrate int8 on its training data and compare int8 with float32 "
                   "accuracy on its test split (default: the data set recorded with the run "
                   "or arch file).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the memory report (estimate, measured, files) as JSON.")
@target_options("Default: the target recorded with the run or arch file.")
def export_cmd(source: str, fmt: str, out: str | None, dtype: str | None, calibration: int,
               seed: int, no_bisect: bool, per_channel_fc: bool, runtime: str,
               dataset: str | None, as_json: bool, **kw: Any) -> None:
    """Export ARCH_FILE (JSON: space, widths[, state_dict]) or RUN_DIR (its best network)."""
    from ..export.api import export, load_record
    from ..targets.resolve import resolve_target
    from .options import reserves

    res = reserves(kw)
    rec, _ = load_record(source)
    target = None
    if kw["target_name"] or kw["rom"] or kw["ram"] or kw["flops"] or any(res.values()):
        target = resolve_target(kw["target_name"], rec.target, rom=kw["rom"], ram=kw["ram"],
                                flops=kw["flops"], **res)
    rep = export(source, fmt, out, calibration=calibration, dataset=dataset, seed=seed,
                 bisect=not no_bisect, per_channel_fc=per_channel_fc, dtype=dtype,
                 target=target, runtime=runtime)
    if not as_json:
        if "text" in rep:
            click.echo(rep["text"], nl=False)
        for f in rep.get("files", []):
            click.echo(f"wrote {f}")
    name = dataset or rec.dataset
    acc = None
    if name and fmt in ("tflite-int8", "c", "tflite") and rep.get("dtype") == "int8" \
            and runtime == "tflm":
        name = _matching_dataset(name, rec.space, explicit=bool(dataset), quiet=as_json)
    if name and fmt in ("tflite-int8", "c", "tflite") and rep.get("dtype") == "int8" \
            and runtime == "tflm":
        from ..export.accuracy import accuracy_int8_vs_float
        from ..export.data import dataset_arrays

        data = dataset_arrays(rec.space, name)
        acc = accuracy_int8_vs_float(rec.space, rec.widths, data["x_test"][:2000],
                                     data["y_test"][:2000], state_dict=rec.state_dict_path(),
                                     x_calib=data["x_train"][:128],
                                     per_channel_fc=per_channel_fc)
        shown = ", ".join(f"{k} {v:.4f}" for k, v in acc.items() if isinstance(v, float))
        if not as_json:
            click.echo(f"{name} test split (<= 2000 samples, TFLM): {shown}")
    if as_json:
        import json

        out_rep = {k: v for k, v in rep.items() if k != "text" and not k.startswith("_")}
        if acc is not None:
            out_rep["accuracy"] = {"dataset": name, "samples": "<= 2000", **acc}
        click.echo(json.dumps(out_rep, indent=2, default=str))


def _matching_dataset(name: str, space: Any, *, explicit: bool, quiet: bool) -> str | None:
    """The data set of the int8-vs-float check if its inputs have the space's shape; a run
    scored by a table records the default data set, which may not: then the check is left
    out with a note (refused in one line when --dataset named it)."""
    from ..data import get_dataset

    shape = tuple(get_dataset(name).input_shape)
    if math.prod(shape) == math.prod(space.input_shape):   # (1, 8, 8) feeds an MLP of 64
        return name
    msg = (f"data set {name!r} has inputs {shape}, space {space.name!r} takes "
           f"{tuple(space.input_shape)}")
    if explicit:
        raise click.UsageError(f"{msg}; give --dataset a data set of that shape")
    if not quiet:
        click.echo(f"int8 accuracy check left out: {msg} (pass --dataset)")
    return None
