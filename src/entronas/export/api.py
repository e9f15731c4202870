"""``entronas export``: arch file / run dir -> .tflite (+ C array, op resolver, memory report).

Why one function: the CLI, the search's check hook and the benchmark all need the same steps
(load -> weights -> write -> measure -> files), so the outputs stay comparable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._core.errors import CorruptFileError, InvalidParameterError, NotInSpaceError
from ..space import ChainSpace, get_space

FORMATS = ("tflite", "tflite-int8", "onnx", "c")


@dataclass
class ArchSpec:
    """What an arch file names: the space, the widths and optional trained weights."""

    space: ChainSpace
    widths: tuple[int, ...]
    state_dict: Path | None = None
    source: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _arch_json(path: Path) -> Path:
    if path.is_dir():
        for cand in (path / "best" / "arch.json", path / "arch.json"):
            if cand.is_file():
                return cand
        raise CorruptFileError(f"{path} is a directory without best/arch.json or arch.json; "
                               "pass a run directory of `entronas search` or an arch JSON file")
    if not path.is_file():
        raise CorruptFileError(f"arch file {path} does not exist")
    return path


def load_arch(path: str | Path) -> ArchSpec:
    """Read ``{"space": name|dict, "widths": [...], "state_dict": optional path}``.

    A run directory resolves to ``best/arch.json`` (its ``space_definition`` is used when
    present, and ``model.pt`` next to it when no ``state_dict`` is named).
    """
    file = _arch_json(Path(path))
    try:
        data = json.loads(file.read_text())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        raw_space = data.get("space_definition") or data["space"]
        widths = tuple(int(w) for w in data["widths"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptFileError(
            f"{file} is not an arch file ({type(exc).__name__}: {exc}); expected "
            '{"space": "dscnn-kws", "widths": [84, 112, ...]}') from None
    space = ChainSpace.from_dict(raw_space) if isinstance(raw_space, dict) else \
        get_space(str(raw_space))
    space.check_arch(widths)  # NotInSpaceError: one line naming the offending width
    sd = data.get("state_dict")
    sd_path = (file.parent / sd) if sd else None
    if sd_path is None and (file.parent / "model.pt").is_file():
        sd_path = file.parent / "model.pt"
    if sd_path is not None and not sd_path.is_file():
        raise CorruptFileError(f"state dict {sd_path} named in {file} does not exist")
    return ArchSpec(space, widths, sd_path, file, data)


def _text_report(rep: dict[str, Any]) -> str:
    e, m, a = rep["estimate"], rep.get("measured", {}), rep.get("agreement", {})
    lines = [f"{rep['space']}[{'-'.join(map(str, rep['widths']))}] {rep['dtype']}"
             + ("" if rep["trained"] else "  (RANDOM weights: deployment dry run)"),
             f"ops to register: {', '.join(rep['ops'])}",
             f"ROM  estimate plain {e['rom_plain']:,} B | +bias {e['rom_bias']:,} B | refined "
             f"{e['rom_refined']:,} B   measured flatbuffer {m.get('flatbuffer', 0):,} B "
             f"(x{a.get('rom_refined_ratio', 0)} of refined)"]
    if "head" in m:
        lines.append(f"RAM  estimate Eq.4 {e['ram_eq4']:,} B | chain {e['ram_chain']:,} B | op graph "
                     f"{e['ram_op_graph']:,} B   TFLM head {m['head']:,} B + tail {m['tail']:,} B;"
                     f" smallest working arena {m.get('min_arena', 0):,} B")
    if "numerics" in rep:
        n = rep["numerics"]
        lines.append(f"numerics vs float reference: max |err| {n['max_abs_err']:.3g} "
                     f"(bound {n['bound']:.3g}) on {n['n']} {rep.get('calibration_note', '')}")
    if "tflm_error" in rep:
        lines.append(f"TFLM: {rep['tflm_error']}")
    return "\n".join(lines) + "\n"


def export(source: str | Path, fmt: str = "tflite", out: str | Path | None = None, *,
           calibration: np.ndarray | int = 64, seed: int = 0, bisect: bool = True,
           per_channel_fc: bool = False, dtype: str | None = None) -> dict[str, Any]:
    """Export an arch file / run dir; returns the report (also written as JSON and text)."""
    if fmt not in FORMATS:
        raise InvalidParameterError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    spec = load_arch(source)
    out_dir = Path(out) if out is not None else (spec.source.parent / "export")  # type: ignore
    name = f"{spec.space.name}_{'-'.join(map(str, spec.widths))}".replace("-", "_")
    if fmt == "onnx":
        from ..models import build_model
        from .report import UnsupportedOpError
        from .onnx import check_onnx, write_onnx
        from .weights import load_state_dict

        model = build_model(spec.space, spec.widths)
        if spec.state_dict is not None:
            model.load_state_dict(load_state_dict(spec.state_dict))
        path = write_onnx(model, spec.space.input_shape, out_dir / f"{name}.onnx")
        err = check_onnx(model, spec.space.input_shape, path)
        if not err <= 1e-4:
            raise UnsupportedOpError(f"onnxruntime output differs from torch by {err:.3g} for "
                                     f"{path}; please report this architecture")
        return {"files": [str(path)], "trained": spec.state_dict is not None,
                "onnxruntime_max_abs_diff": err}
    dtype = dtype or ("float32" if fmt == "tflite" else "int8")
    from .c_array import write_c_sources
    from .report import UnsupportedOpError, calibration_inputs, measure

    if isinstance(calibration, (int, np.integer)):
        calib, note = calibration_inputs(spec.space, int(calibration), seed), \
            f"random normal inputs (seed {seed})"
    else:
        calib, note = np.asarray(calibration, np.float32), "given calibration inputs"
    try:
        rep = measure(spec.space, spec.widths, spec.state_dict, dtype, calibration=calib,
                      bisect=bisect, per_channel_fc=per_channel_fc, seed=seed)
        model = rep.pop("_model")
    except UnsupportedOpError as exc:  # still write the .tflite, report what TFLM lacks
        from .report import estimates, to_tflite
        from .weights import model_weights

        weights, trained = model_weights(spec.space, spec.widths, spec.state_dict, seed=seed)
        model = to_tflite(weights, spec.space, dtype, calib, per_channel_fc)
        rep = {"space": spec.space.name, "widths": list(spec.widths), "dtype": dtype,
               "trained": trained, "ops": list(model.ops), "tflm_error": str(exc),
               "estimate": estimates(spec.space, spec.widths, dtype),
               "measured": {"flatbuffer": model.size}}
        rep["agreement"] = {"rom_refined_ratio": round(model.size /
                                                       rep["estimate"]["rom_refined"], 4)}
    rep["calibration_note"] = note if dtype == "int8" else "inputs"
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    if fmt != "c":
        tfl = out_dir / f"{name}.tflite"
        tfl.write_bytes(model.data)
        files.append(tfl)
    notes = [f"{spec.space.name}[{'-'.join(map(str, spec.widths))}] {dtype}, "
             f"input {list(model.input_shape)} (NHWC)"]
    if model.input_quant:
        notes.append(f"input scale {model.input_quant[0]:.9g} zero_point {model.input_quant[1]}; "
                     f"output scale {model.output_quant[0]:.9g} zero_point "  # type: ignore
                     f"{model.output_quant[1]}")  # type: ignore[index]
    if not rep["trained"]:
        notes.append("RANDOM weights: deployment dry run, not a trained model")
    files += write_c_sources(model.data, out_dir, name, model.ops,
                             rep.get("measured", {}).get("min_arena"), notes)
    rep["files"] = [str(f) for f in files] + [str(out_dir / "memory_report.json"),
                                              str(out_dir / "memory_report.txt")]
    (out_dir / "memory_report.json").write_text(json.dumps(rep, indent=2, default=str))
    (out_dir / "memory_report.txt").write_text(_text_report(rep))
    rep["text"] = _text_report(rep)
    return rep


__all__ = ["ArchSpec", "FORMATS", "NotInSpaceError", "export", "load_arch"]  # noqa: F822
