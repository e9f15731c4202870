"""Which process runs a trial, and whether that process is gone.

Every trial carries ``worker = host:pid:token``, written when its sampler starts on it (before
any candidate is chosen), so a trial whose process was killed is recognised at once on the same
host; on other hosts an RDB storage's heartbeat marks it failed.
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any

#: a RUNNING trial with no worker (killed between its creation and its sampler's first write,
#: a window of milliseconds) is taken for dead after this long; at once when a search starts
#: as the only worker of a local storage (RunDir.sole_worker)
ORPHAN_AFTER_S = 30.0

_WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
#: trial ids this process is running now; a RUNNING trial with this process's id that is not
#: among them was left behind by an earlier search in this process (Ctrl-C, a cut journal)
ACTIVE: set[int] = set()


def worker_id() -> str:
    """This process's identity (a forked child gets its own)."""
    global _WORKER_ID
    _, pid, _ = _WORKER_ID.split(":")
    if int(pid) != os.getpid():
        _WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    return _WORKER_ID


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(trial: Any, now: float, orphan_after: float | None = None) -> bool:
    """A RUNNING trial whose process is gone (same host), or that never got a worker id
    (``orphan_after`` seconds after its start; default :data:`ORPHAN_AFTER_S`)."""
    worker = trial.user_attrs.get("worker")
    if worker is None:
        start = trial.datetime_start.timestamp() if trial.datetime_start else now
        return now - start > (ORPHAN_AFTER_S if orphan_after is None else orphan_after)
    host, pid, _ = str(worker).split(":")
    if host != socket.gethostname():
        return False  # another machine: RDB heartbeats cover it
    if worker == worker_id():
        return trial._trial_id not in ACTIVE
    return int(pid) == os.getpid() or not pid_alive(int(pid))
