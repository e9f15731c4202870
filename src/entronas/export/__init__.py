"""Deployment: TFLite (float32 / int8) and C-array export, TFLM measurements, refined costs.

Light by design: numpy + the ``tflite-micro`` package (extra ``export``) for writing and
measuring; torch only to read trained weights; onnx only for ``--format onnx``.

Public API:
    export(source, fmt, out)             -- what ``entronas export`` does
    measure(space, arch, state_dict, dtype) -> dict   -- estimated vs measured ROM/RAM, ops
    check_fits(space, arch, target, options)          -- what exceeds a target (tflm costs)
    deploy_report(arch_record)           -- export + TFLM measurement + FITS verdict
    op_graph_ram(space, arch, dtype)     -- TFLM's planned activations from the layer list
    accuracy_int8_vs_float(space, arch, x_test, y_test, ...)
    write_tflite, calibrate, folded_weights, random_weights, forward, measure_tflm, load_arch
"""

from __future__ import annotations

from .accuracy import accuracy_int8_vs_float
from .api import FORMATS, ArchSpec, export, load_arch
from .planning import op_graph_ram
from .quantise import calibrate
from .reference import forward, random_weights
from .deploy import deploy_report
from .report import UnsupportedOpError, check_fits, estimates, measure
from .tflm_measure import measure_tflm
from .weights import folded_weights, model_weights
from .writer import TFLiteModel, write_tflite

__all__ = ["ArchSpec", "FORMATS", "TFLiteModel", "UnsupportedOpError", "accuracy_int8_vs_float",
           "calibrate", "check_fits", "deploy_report", "estimates", "export", "folded_weights",
           "forward", "load_arch", "measure", "measure_tflm", "model_weights", "op_graph_ram",
           "random_weights", "write_tflite"]
