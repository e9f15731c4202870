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
    def export_cmd(source: str, fmt: str, out: str | None, dtype: str | None, calibration: int,
                   seed: int, no_bisect: bool, per_channel_fc: bool) -> None:
        """Export ARCH_FILE (JSON: space, widths[, state_dict]) or RUN_DIR (best/arch.json)."""
        from ..export.api import FORMATS, export
        from .._core.errors import InvalidParameterError

        if fmt not in FORMATS:
            raise InvalidParameterError(
                f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
        if dtype not in (None, "float32", "int8"):
            raise InvalidParameterError(f"--dtype must be float32 or int8, got {dtype!r}")
        rep = export(source, fmt, out, calibration=calibration, seed=seed,
                     bisect=not no_bisect, per_channel_fc=per_channel_fc, dtype=dtype)
        if "text" in rep:
            click.echo(rep["text"], nl=False)
        for f in rep.get("files", []):
            click.echo(f"wrote {f}")
