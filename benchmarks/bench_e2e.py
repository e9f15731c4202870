"""End-to-end timings of the user-facing commands (warm machine, packages installed).

Run: ``python benchmarks/bench_e2e.py``. Times ``entronas train`` on digits (issue target:
>= 95 % test accuracy in < 1 min on 2 cores) and the default ``entronas search`` (<= 5 min).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _readme import machine, write_rows  # noqa: E402


def run(argv: list[str], cwd: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "entronas", *argv], cwd=cwd, capture_output=True,
                       text=True, check=True)
    return time.perf_counter() - t0, p.stdout


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        secs, _ = run(["train", "mlp-digits", "--arch", "64,32", "--dataset", "digits",
                       "--epochs", "30", "--no-progress", "--out", "m"], d)
        metrics = json.loads((Path(d) / "m" / "metrics.json").read_text())
        acc = metrics.get("metrics", metrics).get("accuracy")
        rows.append(f"| `entronas train mlp-digits --arch 64,32 --dataset digits --epochs 30` | "
                    f"test accuracy {acc:.4f} | {secs:.1f} s | target >= 0.95 in < 60 s |")
        secs, out = run(["search", "-q"], d)
        m = re.search(r"best:.*", out)
        best = " ".join(m.group(0).split()[1:]).replace("|", "/") if m else "?"
        rows.append(f"| `entronas search` (default: 20 trials x 30 epochs, entropy) | "
                    f"{best} | {secs:.1f} s | target <= 5 min |")
    rows.append(f"| *{machine()}, warm (installed) environment* | | | |")
    print("\n".join(rows))
    write_rows("e2e", rows)


if __name__ == "__main__":
    main()
