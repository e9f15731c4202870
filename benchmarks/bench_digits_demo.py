"""The digits comparison of the README: entropy vs random vs TPE, 5 seeds, the default job.

Runs ``experiments/run_all.sh experiments/digits_demo.yaml -q`` (15 searches and the report)
in a scratch directory, a DARTS supernet for the Fig. 5-style plot, writes the table rows into
README.md and the two plots into ``docs/``.

Run: ``python benchmarks/bench_digits_demo.py`` (about 2.5 min on 2 cores).
"""

from __future__ import annotations

import csv
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _readme import machine, write_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DARTS = ["entronas", "darts", "--space", "mlp-digits", "--epochs", "8", "-t", "stm32g071",
         "--rom", "48KiB", "--ram", "2304B", "--rom-reserve", "0", "--ram-reserve", "0"]


def main() -> list[str]:
    with tempfile.TemporaryDirectory() as d:
        shutil.copytree(ROOT / "experiments", Path(d) / "experiments")
        t0 = time.perf_counter()
        subprocess.run(["bash", "experiments/run_all.sh", "experiments/digits_demo.yaml", "-q"],
                       cwd=d, check=True, capture_output=True)
        wall = time.perf_counter() - t0
        out = subprocess.run(DARTS + ["--run-dir", "runs/digits_demo/darts-s0"], cwd=d,
                             check=True, capture_output=True, text=True).stdout
        runs = Path(d) / "runs" / "digits_demo"
        seed0 = [str(runs / f"{s}-s0") for s in ("entropy", "random", "tpe")]
        subprocess.run(["entronas", "report", *seed0, str(runs / "darts-s0"), "--out",
                        str(runs / "report_darts")], check=True, capture_output=True)
        shutil.copy(runs / "report" / "best_vs_samples.png",
                    ROOT / "docs" / "digits_demo_best_vs_samples.png")
        shutil.copy(runs / "report_darts" / "best_vs_time.png",
                    ROOT / "docs" / "digits_demo_best_vs_time_with_darts.png")
        with open(runs / "report" / "runs.csv") as fh:
            rows = [r for r in csv.DictReader(fh) if r["strategy"] != "reference"]
    out_rows = []
    for strategy, label in (("entropy", "entropy"), ("random", "random (X^f)"), ("tpe", "TPE")):
        mine = [r for r in rows if r["strategy"] == strategy]
        best = [float(r["best_score"]) for r in mine]
        out_rows.append(f"| {label} | {statistics.mean(best):.4f} | {min(best):.4f} | "
                        f"{max(best):.4f} | {sum(int(r['infeasible']) for r in mine)} | "
                        f"{sum(int(r['duplicate_proposals']) for r in mine)} |")
    out_rows.append(f"| *15 runs in {wall / 60:.0f} min {wall % 60:.0f} s; {machine()}* "
                    "| | | | | |")
    darts = [line for line in out.splitlines() if line.startswith("supernet")]
    out_rows.append(f"| *DARTS (seed 0): {darts[0] if darts else '?'}* | | | | | |")
    for r in out_rows:
        print(r)
    return out_rows


if __name__ == "__main__":
    write_rows("digits", main())
