"""Estimate vs measured deployment resources of MLPerf-Tiny-like reference models.

For each model and dtype: our ROM estimate (the tflm convention; Eq. 3 + bias in brackets)
against the written flatbuffer, and our RAM estimates (tflm: planner replay + persistent model;
Eq. 4 in brackets) against TFLM's planned activations (head), persistent part (tail) and the
smallest working arena. Random
weights (sizes and arena do not depend on the values). Rows go to README.md via _readme.py.

Run: ``python benchmarks/bench_deploy.py`` (needs ``tflite-micro``; ~10 s).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _readme import machine, write_rows  # noqa: E402

from entronas.export import measure  # noqa: E402
from entronas.space import get_space  # noqa: E402

MODELS = [
    ("dscnn-kws MicroNet-S", get_space("dscnn-kws"), (84, 112, 84, 84, 84, 196)),
    ("autoencoder-ad 640-128x4-8-128x4-640", get_space("autoencoder-ad", widths=(128,)),
     (128, 128, 128, 128, 8, 128, 128, 128, 128, 640)),
    ("mobilenet-vww 96x96 64x8", get_space("mobilenet-vww"), (64,) * 8),
    ("resnet8-cifar10 MLPerf ResNet-8", get_space("resnet8-cifar10"), (16, 16, 32, 64)),
]


def main() -> list[str]:
    rows = []
    for label, space, arch in MODELS:
        for dtype in ("float32", "int8"):
            t0 = time.perf_counter()
            r = measure(space, arch, dtype=dtype, check_numerics=False)
            dt = time.perf_counter() - t0
            e, m = r["estimate"], r["measured"]
            rows.append(
                f"| export {label} {dtype} | {e['rom_tflm']:,} ({e['rom_bias']:,}) / "
                f"{m['flatbuffer']:,} B | {e['ram_tflm']:,} ({e['ram_eq4']:,}) / "
                f"min arena {m['min_arena']:,} B (planned {m['head']:,} + {m['tail']:,}) "
                f"| {dt:.2f} s |")
            print(rows[-1], flush=True)
    rows.append(f"| export: columns = est ROM tflm (Eq.3+bias) / flatbuffer; est RAM tflm "
                f"(Eq. 4) / TFLM smallest arena (planned + persistent); random weights; "
                f"{machine()} | | | |")
    return rows


if __name__ == "__main__":
    write_rows("deploy", main())
