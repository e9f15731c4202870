"""Run a ``.tflite`` in TensorFlow Lite Micro's Python interpreter and measure its arena.

Why this shape (deploy.md section 3):

* the Python API has no ``arena_used_bytes()``; ``print_allocations()`` writes the
  RecordingMicroAllocator report from C++ to fd 2, so we redirect fd 2 and parse it:
  **head** = planned, non-persistent activations; **tail** = persistent data (tensor structs,
  op data, per-channel multipliers);
* the recorded total is not always a safe arena size (per-channel int8 FC needs temporary memory
  during Prepare), so the smallest working ``arena_size`` is found by bisection;
* TFLM can *segfault* instead of raising when the arena is too small, so every probe runs in a
  ``fork()``ed child and a crash is just "too small".
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from typing import Any, Callable

import numpy as np

from .._core.errors import EntronasError
from .._core.imports import require

_LINE = re.compile(r"\[RecordingMicroAllocator\] Arena allocation (total|head|tail) (\d+) bytes")
_DETAIL = re.compile(r"\[RecordingMicroAllocator\] '([^']+)' used (\d+) bytes")


def _runtime() -> Any:
    require("tflite_micro", "export", "running models in TensorFlow Lite Micro")
    from tflite_micro.python.tflite_micro import runtime

    return runtime


def generous_arena(data: bytes) -> int:
    """An arena that surely fits: every non-constant tensor unshared, plus per-op slack."""
    from .fbinspect import inspect_tflite

    info = inspect_tflite(data)
    return int(sum(info["activation_bytes"]) + 2048 * len(info["ops"])
               + 64 * info["channels"] + 64 * 1024)


def run(data: bytes, x: np.ndarray, arena_size: int | None = None) -> np.ndarray:
    """Outputs of the model for a batch ``x`` already in the model's input layout and dtype."""
    rt = _runtime()
    interp = rt.Interpreter.from_bytes(bytes(data), arena_size=arena_size or generous_arena(data))
    dtype = interp.get_input_details(0)["dtype"]
    outs = []
    for xi in np.asarray(x):
        interp.set_input(np.ascontiguousarray(xi[None]).astype(dtype), 0)
        interp.invoke()
        outs.append(np.array(interp.get_output(0)))
    return np.concatenate(outs)


def _in_child(fn: Callable[[], Any], timeout_note: str = "") -> tuple[bool, Any]:
    """Run ``fn`` in a forked child; (ok, json result). A crash or exception is (False, why)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into the caller's stack
        code = 1
        try:
            os.close(r)
            payload = json.dumps({"ok": True, "result": fn()})
            code = 0
        except BaseException as exc:  # noqa: BLE001 - report anything to the parent
            payload = json.dumps({"ok": False, "result": f"{type(exc).__name__}: {exc}"})
        try:
            os.write(w, payload.encode())
            os.close(w)
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return False, f"crashed with signal {os.WTERMSIG(status)}"
    try:
        msg = json.loads(b"".join(chunks).decode() or "{}")
    except ValueError:
        return False, "child wrote no result"
    return bool(msg.get("ok")), msg.get("result")


def _probe(data: bytes, arena_size: int, report: bool) -> Callable[[], Any]:
    def fn() -> Any:
        quiet = os.open(os.devnull, os.O_WRONLY)  # TFLM logs every failed allocation to fd 2
        os.dup2(quiet, 2)
        rt = _runtime()
        interp = rt.Interpreter.from_bytes(bytes(data), arena_size=int(arena_size))
        det = interp.get_input_details(0)
        interp.set_input(np.zeros(det["shape"], det["dtype"]), 0)
        interp.invoke()
        if not report:
            return None
        with tempfile.TemporaryFile() as fh:
            os.dup2(fh.fileno(), 2)
            interp.print_allocations()
            fh.seek(0)
            return fh.read().decode(errors="replace")

    return fn


def parse_allocations(text: str) -> dict[str, Any]:
    """head / tail / total and the per-category lines of a RecordingMicroAllocator report."""
    out: dict[str, Any] = {m.group(1): int(m.group(2)) for m in _LINE.finditer(text)}
    out["details"] = {m.group(1): int(m.group(2)) for m in _DETAIL.finditer(text)}
    return out


def allocations(data: bytes, arena_size: int | None = None) -> dict[str, Any]:
    """The allocator report after one inference (in a child process)."""
    ok, result = _in_child(_probe(data, arena_size or generous_arena(data), True))
    if not ok:
        raise EntronasError(f"TFLM could not run the model: {result}")
    rec = parse_allocations(result)
    if "head" not in rec:
        raise EntronasError("TFLM printed no allocation report (tflite-micro version changed?)")
    return rec


def min_arena(data: bytes, hi: int | None = None, lo: int = 0, step: int = 16,
              guess: int | None = None) -> int:
    """Smallest ``arena_size`` (to ``step`` bytes, rounded up) with which TFLM allocates and
    invokes, each probe in a forked child.

    With a ``guess`` (e.g. the recorded head + tail) the search brackets it with steps that
    double away from it, then bisects: about 8 probes instead of 15.
    """
    def works(n: int) -> bool:
        return _in_child(_probe(data, n, False))[0]

    if guess is not None and guess > lo:
        d = step
        if works(guess):
            hi = guess
            while guess - d > lo and works(guess - d):
                hi, d = guess - d, d * 2
            lo = max(lo, guess - d)
        else:
            lo = guess
            while not works(guess + d):
                if d > 1 << 30:
                    raise EntronasError("TFLM fails even with a 1 GiB arena")
                lo, d = guess + d, d * 2
            hi = guess + d
    else:
        hi = hi or generous_arena(data)
        while not works(hi):
            if hi > 1 << 30:
                raise EntronasError("TFLM fails even with a 1 GiB arena")
            lo, hi = hi, hi * 2
    while hi - lo > step:
        mid = (lo + hi) // 2
        if works(mid):
            hi = mid
        else:
            lo = mid
    return hi


def measure_tflm(data: bytes, *, bisect: bool = True) -> dict[str, Any]:
    """head, tail, recorded total and (optionally) the smallest working arena, in bytes."""
    rec = allocations(data)
    out = {"head": rec["head"], "tail": rec["tail"], "recorded_total": rec["total"],
           "details": rec["details"]}
    if bisect:
        out["min_arena"] = min_arena(data, lo=rec["head"], guess=rec["total"])
    return out
