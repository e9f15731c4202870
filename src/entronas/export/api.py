"""``entronas export``: arch file / run dir -> .tflite (+ C sources, op resolver, memory report).

Why one function: the CLI and the benchmarks need the same steps (read the arch record ->
check the ops -> weights -> calibrate -> write -> measure -> verdict -> files), so the outputs
stay comparable. Each dtype gets its own folder (``export/float32``, ``export/int8``), so one
export never overwrites the other; an export TFLM cannot run is refused before anything is
written, with the fix named.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._core.errors import InvalidParameterError
from .._core.fileio import atomic_write
from ..runs.archrecord import ArchRecord
from ..runs.rundir import RunDir, read_arch
from ..space import ChainSpace

FORMATS = ("tflite", "tflite-int8", "onnx", "c")
RUNTIMES = ("tflm", "litert")


@dataclass
class ArchSpec:
    """What an arch file names: the space, the widths and optional trained weights."""

    space: ChainSpace
    widths: tuple[int, ...]
    state_dict: Path | None = None
    source: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def load_record(path: str | Path) -> tuple[ArchRecord, RunDir | None]:
    """The arch record of an arch file, a run directory (its best) or an arch folder."""
    p = Path(path)
    if p.is_dir() and RunDir(p).exists():
        rd = RunDir(p)
        return rd.read_best(), rd
    return read_arch(p), None  # a missing file: ArchRecord.read says so, with the fix


def load_arch(path: str | Path) -> ArchSpec:
    """Read an arch file (or a run dir's best) as (space, widths, state dict path)."""
    rec, _ = load_record(path)
    return ArchSpec(rec.space, rec.widths, rec.state_dict_path(), rec.source, rec.to_dict())


def _b(n: int | None) -> str:
    return "- (not calibrated for these layers)" if n is None else f"{n:,} B"


def _text_report(rep: dict[str, Any]) -> str:
    e, m = rep["estimate"], rep.get("measured", {})
    lines = [f"{rep['space']}[{'-'.join(map(str, rep['widths']))}] {rep['dtype']}"
             + ("" if rep["trained"] else "  (RANDOM weights: deployment dry run)"),
             f"ops to register: {', '.join(rep['ops'])}",
             f"ROM  estimate (tflm) {_b(e['rom_tflm'])} | paper {e['rom_plain']:,} B | +bias "
             f"{e['rom_bias']:,} B   measured flatbuffer {m.get('flatbuffer', 0):,} B"]
    if "head" in m:
        lines.append(f"RAM  estimate (tflm) {_b(e['ram_tflm'])} (planned {e['ram_tflm_plan']:,}) "
                     f"| Eq.4 {e['ram_eq4']:,} B | op graph {e['ram_op_graph']:,} B   measured "
                     f"TFLM planned {m['head']:,} B + persistent {m['tail']:,} B; smallest "
                     f"working arena {m.get('min_arena', 0):,} B")
    if rep.get("verdict"):
        lines.append(f"measured: {rep['verdict']}")
    if "numerics" in rep:
        n = rep["numerics"]
        lines.append(f"numerics vs float reference: max |err| {n['max_abs_err']:.3g} "
                     f"(bound {n['bound']:.3g}) on {n['n']} {rep.get('calibration_note', '')}")
    if rep.get("runtime") == "litert":
        lines.append("written for LiteRT (--runtime litert): not measured in TFLM")
    return "\n".join(lines) + "\n"


def _dtype(fmt: str, dtype: str | None) -> str:
    if dtype not in (None, "float32", "int8"):
        raise InvalidParameterError(f"--dtype must be float32 or int8, got {dtype!r}")
    if fmt == "tflite-int8":
        if dtype == "float32":
            raise InvalidParameterError("--format tflite-int8 with --dtype float32: use "
                                        "--format tflite for a float32 model")
        return "int8"
    return dtype or ("float32" if fmt == "tflite" else "int8")


def export(source: str | Path, fmt: str = "tflite", out: str | Path | None = None, *,
           calibration: np.ndarray | int | None = None, dataset: str | None = None,
           seed: int = 0, bisect: bool = True, per_channel_fc: bool = False,
           dtype: str | None = None, target: Any = None, runtime: str = "tflm"
           ) -> dict[str, Any]:
    """Export an arch file / run dir; returns the report (also written as JSON and text)."""
    from ..space.lowering import lower
    from .weights import space_ops

    if fmt not in FORMATS:
        raise InvalidParameterError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if runtime not in RUNTIMES:
        raise InvalidParameterError(f"--runtime must be one of {RUNTIMES}, got {runtime!r}")
    rec, rd = load_record(source)
    base = rd.path / "export" if rd is not None else Path(rec.source).parent / "export"
    name = f"{rec.space.name}_{'-'.join(map(str, rec.widths))}".replace("-", "_")
    if fmt == "onnx":
        return _onnx(rec, Path(out) if out is not None else base / "onnx", name)
    dtype = _dtype(fmt, dtype)
    out_dir = Path(out) if out is not None else base / dtype
    codes = lower(space_ops(rec.space, rec.widths), per_channel_fc=per_channel_fc).codes()
    if runtime == "tflm":  # refuse before anything is written
        from .report import UnsupportedOpError, check_tflm_ops

        try:
            check_tflm_ops(codes)
        except UnsupportedOpError as exc:
            raise UnsupportedOpError(f"{exc}; or pass --runtime litert to write the file for "
                                     "LiteRT without a TFLM check") from None
    target = target or rec.target
    calib, note = _calibration(rec, dtype, calibration, dataset, seed)
    rep, model = _write_and_measure(rec, dtype, calib, bisect, per_channel_fc, seed, runtime)
    rep["calibration_note"] = note if dtype == "int8" else "inputs"
    rep["runtime"] = runtime
    if runtime == "tflm":
        from .deploy import verdict

        m = rep["measured"]
        fits, text = verdict(target, m["flatbuffer"], m.get("min_arena") or m["recorded_total"])
        rep.update(fits=fits, verdict=text,
                   target=None if target is None else target.to_dict())
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    if fmt != "c":
        tfl = out_dir / f"{name}.tflite"
        atomic_write(tfl, model.data)
        files.append(tfl)
    notes = [f"{rec.space.name}[{'-'.join(map(str, rec.widths))}] {dtype}, "
             f"input {list(model.input_shape)} (NHWC)"]
    if model.input_quant:
        notes.append(f"input scale {model.input_quant[0]:.9g} zero_point {model.input_quant[1]}; "
                     f"output scale {model.output_quant[0]:.9g} zero_point "  # type: ignore
                     f"{model.output_quant[1]}")  # type: ignore[index]
    if not rep["trained"]:
        notes.append("RANDOM weights: deployment dry run, not a trained model")
    from .c_array import write_c_sources

    files += write_c_sources(model.data, out_dir, name, model.ops,
                             rep.get("measured", {}).get("min_arena"), notes)
    rep["files"] = [str(f) for f in files] + [str(out_dir / "memory_report.json"),
                                              str(out_dir / "memory_report.txt")]
    rep["text"] = _text_report(rep)
    atomic_write(out_dir / "memory_report.json", json.dumps(
        {k: v for k, v in rep.items() if k != "text"}, indent=2, default=str))
    atomic_write(out_dir / "memory_report.txt", rep["text"])
    return rep


def _calibration(rec: ArchRecord, dtype: str, calibration: Any, dataset: str | None,
                 seed: int) -> tuple[np.ndarray | None, str]:
    from .deploy import calibration_for
    from .report import calibration_inputs

    if dtype != "int8":
        return None, ""
    if isinstance(calibration, np.ndarray):
        return np.asarray(calibration, np.float32), "given calibration inputs"
    if dataset or rec.dataset:
        return calibration_for(rec.space, dataset or rec.dataset, seed=seed)
    n = int(calibration) if calibration else 64
    return calibration_inputs(rec.space, n, seed), f"{n} random normal inputs (seed {seed})"


def _write_and_measure(rec: ArchRecord, dtype: str, calib: np.ndarray | None, bisect: bool,
                       per_channel_fc: bool, seed: int, runtime: str) -> tuple[dict, Any]:
    from .report import estimates, measure, to_tflite
    from .weights import model_weights

    sd = rec.state_dict_path()
    if runtime == "tflm":
        rep = measure(rec.space, rec.widths, sd, dtype, calibration=calib, bisect=bisect,
                      per_channel_fc=per_channel_fc, seed=seed)
        return rep, rep.pop("_model")
    weights, trained = model_weights(rec.space, rec.widths, sd, seed=seed)
    model = to_tflite(weights, rec.space, dtype, calib, per_channel_fc)
    rep = {"space": rec.space.name, "widths": list(rec.widths), "dtype": dtype,
           "trained": trained, "ops": list(model.ops),
           "estimate": estimates(rec.space, rec.widths, dtype),
           "measured": {"flatbuffer": model.size}}
    return rep, model


def _onnx(rec: ArchRecord, out_dir: Path, name: str) -> dict[str, Any]:
    from ..models import build_model
    from .onnx import check_onnx, write_onnx
    from .report import UnsupportedOpError
    from .weights import load_state_dict

    model = build_model(rec.space, rec.widths)
    sd = rec.state_dict_path()
    if sd is not None:
        model.load_state_dict(load_state_dict(sd))
    path = write_onnx(model, rec.space.input_shape, out_dir / f"{name}.onnx")
    err = check_onnx(model, rec.space.input_shape, path)
    if not err <= 1e-4:
        raise UnsupportedOpError(f"onnxruntime output differs from torch by {err:.3g} for "
                                 f"{path}; please report this architecture")
    return {"files": [str(path)], "trained": sd is not None, "onnxruntime_max_abs_diff": err}


__all__ = ["ArchSpec", "FORMATS", "RUNTIMES", "export", "load_arch", "load_record"]
