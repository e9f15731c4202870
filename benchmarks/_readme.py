"""Benchmarks write their own rows into README.md between markers.

Each benchmark owns a block ``<!-- bench:NAME -->`` ... ``<!-- /bench:NAME -->`` inside the
README's table of measured figures and replaces only that block.
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_rows(name: str, rows: list[str]) -> None:
    if os.environ.get("ENTRONAS_BENCH_NO_README"):
        return
    text = README.read_text()
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = start + "\n" + "\n".join(rows) + "\n" + end
    if start in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text,
                      flags=re.S)
    else:
        text = text.rstrip() + "\n" + block + "\n"
    README.write_text(text)
