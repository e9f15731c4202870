"""``entronas export``: deploy a found network (TFLite float32/int8, C array, memory report)."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    @cli.command("export")
    @click.argument("source", type=click.Path(path_type=str))
    @click.option("--format", "fmt", default="tflite", show_default=True,
                  help="tflite | tflite-int8 | onnx | c")
    @click.option("--out", type=click.Path(path_type=str), default=None,
                  help="Output directory (default: <source dir>/export).")
    @click.option("--dtype", default=None, help="For --format c: float32 or int8 (default).")
    @click.option("--calibration", default=64, show_default=True, type=int,
                  help="int8: number of random normal calibration inputs (no dataset given).")
    @click.option("--seed", default=0, show_default=True, type=int)
    @click.option("--no-bisect", is_flag=True, help="Skip the smallest-arena search.")
    @click.option("--per-channel-fc", is_flag=True,
                  help="int8: per-channel FC weights (more ROM and arena in TFLM).")
    @click.option("--dataset", default=None,
                  help="Calibrate int8 on its training data and compare int8 with float32 "
                       "accuracy on its test split (default: the run's dataset, if SOURCE is a "
                       "run directory).")
    def export_cmd(source: str, fmt: str, out: str | None, dtype: str | None, calibration: int,
                   seed: int, no_bisect: bool, per_channel_fc: bool,
                   dataset: str | None) -> None:
        """Export ARCH_FILE (JSON: space, widths[, state_dict]) or RUN_DIR (best/arch.json)."""
        from ..export.api import FORMATS, export
        from .._core.errors import InvalidParameterError

        if fmt not in FORMATS:
            raise InvalidParameterError(
                f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
        if dtype not in (None, "float32", "int8"):
            raise InvalidParameterError(f"--dtype must be float32 or int8, got {dtype!r}")
        data = _dataset_arrays(source, dataset)
        calib = calibration
        if data is not None:
            calib = data["x_train"][:max(calibration, 1)]
        rep = export(source, fmt, out, calibration=calib, seed=seed,
                     bisect=not no_bisect, per_channel_fc=per_channel_fc, dtype=dtype)
        if "text" in rep:
            click.echo(rep["text"], nl=False)
        for f in rep.get("files", []):
            click.echo(f"wrote {f}")
        if data is not None and fmt in ("tflite-int8", "c") and (dtype or "int8") == "int8":
            from ..export.accuracy import accuracy_int8_vs_float
            from ..export.api import load_arch

            spec = load_arch(source)
            acc = accuracy_int8_vs_float(spec.space, spec.widths, data["x_test"][:2000],
                                         data["y_test"][:2000], state_dict=spec.state_dict,
                                         x_calib=calib, per_channel_fc=per_channel_fc)
            shown = ", ".join(f"{k} {v:.4f}" for k, v in acc.items()
                              if isinstance(v, float))
            click.echo(f"{data['name']} test split (<= 2000 samples, TFLM): {shown}")


def _dataset_arrays(source: str, dataset: str | None) -> dict | None:
    """Calibration/test arrays of ``dataset`` (default: the run's data set, for a run dir)."""
    import json
    from pathlib import Path

    if dataset is None:
        run_info = Path(source) / "run.json"
        if not run_info.is_file():
            return None
        dataset = (json.loads(run_info.read_text()).get("config") or {}).get("dataset")
        if not dataset:
            return None
    from ..export.api import load_arch
    from ..export.data import dataset_arrays

    return dataset_arrays(load_arch(source).space, dataset)
