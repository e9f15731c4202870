"""The training loop: whole data set as device tensors, batches by indexing a permutation.

Why not a ``DataLoader``: the candidates are tiny, so collating samples one by one in
Python costs as much as the forward/backward pass. With the split already a tensor on the
device, a batch is one ``index_select``. Data sets too large for the device stay on the host
and only the batch is copied (``max_device_bytes`` decides).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from typing import Any, Iterator

import torch
from torch import nn

from .._core.arch import Arch
from .._core.errors import InvalidParameterError
from .._core.rng import derive_seed
from .._core.validation import check_number
from ..models.build import BN_MOMENTUM, build_model
from ..space.base import ChainSpace
from .config import TrainResult, default_batch_size, default_epochs
from .data_device import DeviceData, _check_task, _fetch, prepare_data
from .evaluate import evaluate, recalibrate_batchnorm


#: below this many optimizer steps the Keras-style running BN statistics (momentum 0.01) still
#: carry more than 0.1 % of their initial values, so "auto" recalibrates them after training
RECALIBRATE_BELOW_STEPS = math.ceil(math.log(1e-3) / math.log(1.0 - BN_MOMENTUM))
#: on the CPU, batches of fewer forward FLOPs than this train on one thread: for such tiny ops
#: thread hand-offs cost more than they save, and on a busy machine spinning OpenMP workers
#: made mlp-digits 30x slower (0.2 s -> 7 s) with 2 threads on 2 shared cores
SINGLE_THREAD_BELOW_FLOPS = 50_000_000


#: the cgroup v2 CPU quota file ("max 100000" or "<quota> <period>")
CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"


def machine_threads() -> int | None:
    """CPU threads for training: torch's count, capped by the CPUs this process may run on
    and by a container's CPU quota (None: torch's count already fits).

    Why: torch counts the host's cores; in a container limited to 2 CPUs of a 64-core host,
    64 spinning OpenMP workers on 2 CPUs make every step many times slower."""
    n = torch.get_num_threads()
    cap = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else n
    try:
        with open(CGROUP_CPU_MAX) as fh:
            quota, period = fh.read().split()[:2]
        if quota != "max":
            cap = min(cap, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cap if cap < n else None


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    """``torch.set_num_threads(n)`` inside (process-wide), the previous value restored."""
    prev = torch.get_num_threads()
    if n is not None and n != prev:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != prev:
            torch.set_num_threads(prev)


@contextlib.contextmanager
def _determinism(enabled: bool, device: torch.device) -> Iterator[None]:
    """Forked (seedable) RNG inside; on CUDA also deterministic kernels; settings restored.

    Why CUDA only: the CPU kernels used here give bit-identical results for a fixed seed and
    thread count anyway (tested), while ``use_deterministic_algorithms`` cost ~10 % of CPU
    DS-CNN throughput. On CUDA it removes atomics-based nondeterminism (cuDNN, scatter).
    """
    prev = (torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    enabled = enabled and device.type == "cuda"
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    devices = [device.index or 0] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        torch.use_deterministic_algorithms(prev[0], warn_only=prev[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = prev[2], prev[3]


def _progress(total: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # progress is cosmetic: no bar without tqdm
        return None
    return tqdm(total=total, desc=desc, unit="batch", file=sys.stderr, leave=False,
                dynamic_ncols=True)


def _batches(n: int, batch_size: int) -> list[tuple[int, int]]:
    """Batch bounds; a trailing batch of one sample is dropped (BatchNorm needs two)."""
    bounds = [(a, min(a + batch_size, n)) for a in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds.pop()
    return bounds


def _adam(model: nn.Module, lr: float, fused: bool) -> torch.optim.Optimizer:
    """Adam; ``fused``: one fused kernel per step where torch has one for the device (CPU and
    CUDA), instead of a loop over the parameter tensors (same update rule)."""
    if fused:
        try:
            return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
        except (RuntimeError, TypeError, ValueError):   # a device or dtype without the kernel
            pass
    return torch.optim.Adam(model.parameters(), lr=lr)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train(space: ChainSpace, arch: Arch | tuple[int, ...] | list[int], dataset: Any, *,
          epochs: int | None = None, batch_size: int | None = None, lr: float = 1e-3,
          seed: int = 0, device: str = "auto", amp: bool = False, progress: bool = True,
          deterministic: bool = True, handle_interrupt: bool = True,
          max_device_bytes: int | None = None, recalibrate_bn: bool | None = None,
          threads: int | None = None, channels_last: bool | None = None,
          fused_adam: bool = True) -> TrainResult:
    """Train ``arch`` from scratch on ``dataset`` with Adam and evaluate it.

    Args:
        space, arch: the candidate (``arch`` must be a member of ``space``).
        dataset: an ``entronas.data.ArrayDataset`` (or the ``DeviceData`` of
            :func:`prepare_data`, to reuse tensors already on the device).
        epochs: default ``DEFAULT_EPOCHS[space.backbone]`` (the paper's per task).
        batch_size: default ``DEFAULT_BATCH_SIZE`` (100; 512 for the autoencoder).
        lr: Adam learning rate (constant, as the paper).
        seed: seeds initialisation, shuffling and augmentation (same seed, same result on CPU).
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``.
        amp: mixed precision (float16 autocast + GradScaler) on CUDA; ignored on the CPU.
        progress: a tqdm bar on stderr.
        deterministic: deterministic CUDA kernels while training (restored afterwards); CPU
            runs are reproducible for a seed without it.
        handle_interrupt: on KeyboardInterrupt stop, evaluate what finished and return with
            ``interrupted=True``; False re-raises (the search stops instead).
        max_device_bytes: resident-data cap, see :func:`prepare_data`.
        recalibrate_bn: recompute the BatchNorm running statistics with one pass over the
            training data before evaluating. ``None`` (auto) does it when training made fewer
            than ``RECALIBRATE_BELOW_STEPS`` (688) steps: with Keras' momentum the running
            averages would still be dominated by their initial values (small data sets such
            as digits evaluate at chance level otherwise).
        threads: CPU intra-op threads while training and evaluating; ``None`` (auto) uses
            one thread when a batch needs fewer than ``SINGLE_THREAD_BELOW_FLOPS`` forward
            FLOPs and otherwise torch's setting capped by :func:`machine_threads` (the CPUs
            and CPU quota the process has). Ignored on CUDA.
        channels_last: keep conv weights (and so activations) in channels-last memory format;
            None = on for networks with convolutions (about 1.3x faster DS-CNN training on
            CPU with oneDNN, and the layout tensor cores want on CUDA).
        fused_adam: Adam's fused kernel where the device has one (``benchmarks/bench_train.py``
            measures it against the per-tensor loop); False: the per-tensor loop.
    """
    owner = "train()"
    check_number(lr, "lr", owner, lo=0, closed="neither")
    check_number(seed, "seed", owner, lo=0, integer=True)
    epochs = default_epochs(space) if epochs is None else check_number(
        epochs, "epochs", owner, lo=1, integer=True)
    batch_size = default_batch_size(space) if batch_size is None else check_number(
        batch_size, "batch_size", owner, lo=1, integer=True)
    if threads is not None:
        check_number(threads, "threads", owner, lo=1, integer=True,
                     fix="Give at least 1 (--threads), or leave it out for the automatic count.")
    data = dataset if isinstance(dataset, DeviceData) else prepare_data(
        space, dataset, device, max_device_bytes=max_device_bytes)
    if data.input_shape != tuple(space.input_shape):
        raise InvalidParameterError(
            f"the prepared data has input shape {data.input_shape}, space {space.name!r} "
            f"expects {tuple(space.input_shape)}; call prepare_data with this space")
    dev = data.device
    widths = space.check_arch(arch)
    num_classes = _check_task(space, data)
    use_amp = bool(amp) and dev.type == "cuda"
    classify = data.task == "classification"
    if dev.type != "cpu":
        threads = None
    elif threads is None:
        batch_flops = 2 * sum(layer.macs for layer in space.layers(widths)) * batch_size
        threads = 1 if batch_flops < SINGLE_THREAD_BELOW_FLOPS else machine_threads()

    with _threads(threads), _determinism(deterministic, dev):
        torch.manual_seed(derive_seed(seed, 0))
        model = build_model(space, widths, num_classes=num_classes).to(dev)
        if channels_last is None:
            channels_last = any(op.kind == "conv2d" for layer in space.layers(widths)
                                for op in layer.ops)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        out_shape = model.layers[-1].out_shape
        if not classify and math.prod(out_shape) != math.prod(data.input_shape):
            raise InvalidParameterError(
                f"{Arch(space.name, widths)} outputs {out_shape} but reconstructing needs "
                f"{data.input_shape}")
        if classify and num_classes is None and out_shape != (data.num_classes,):
            raise InvalidParameterError(
                f"space {space.name!r} has no classifier and its output {out_shape} does not "
                f"match the {data.num_classes} classes of dataset {data.name!r}")
        optimizer = _adam(model, lr, fused_adam)
        # loss scaling only where float16 autocast runs (on the CPU it would do nothing)
        scaler = torch.amp.GradScaler("cuda") if use_amp else None
        loss_fn: nn.Module = nn.CrossEntropyLoss() if classify else nn.MSELoss()
        shuffle = torch.Generator().manual_seed(derive_seed(seed, 1))
        aug = None
        if data.transform is not None:
            aug = torch.Generator(device=dev).manual_seed(derive_seed(seed, 2))
        n = len(data.x_train)
        bounds = _batches(n, batch_size)
        seen_per_epoch = bounds[-1][1] if bounds else 0
        bar = _progress(epochs * len(bounds), f"train {Arch(space.name, widths).key()}",
                        progress)
        curve: list[float] = []
        done, interrupted, samples, steps = 0, False, 0, 0
        _sync(dev)
        start = time.perf_counter()
        try:
            for _epoch in range(epochs):
                model.train()
                perm = torch.randperm(n, generator=shuffle)
                if data.resident:
                    perm = perm.to(dev)
                total = torch.zeros((), device=dev)
                for a, b in bounds:
                    idx = perm[a:b]
                    xb = _fetch(data.x_train, idx, data)
                    if aug is not None:
                        xb = data.transform(xb, aug)
                    with torch.autocast(dev.type, dtype=torch.float16, enabled=use_amp):
                        out = model(xb)
                        if classify:
                            loss = loss_fn(out, _fetch(data.y_train, idx, data))
                        else:
                            loss = loss_fn(out.float(), xb.reshape(out.shape).float())
                    optimizer.zero_grad(set_to_none=True)
                    if scaler is None:
                        loss.backward()
                        optimizer.step()
                    else:
                        scaler.scale(loss).backward()
                        scaler.step(optimizer)
                        scaler.update()
                    total += loss.detach().float() * (b - a)
                    samples += b - a
                    steps += 1
                    if bar is not None:
                        bar.update(1)
                curve.append(float(total.item()) / max(seen_per_epoch, 1))
                done += 1
                if bar is not None:
                    bar.set_postfix(epoch=done, loss=f"{curve[-1]:.4g}")
        except KeyboardInterrupt:
            if not handle_interrupt:
                raise
            interrupted = True
        finally:
            if bar is not None:
                bar.close()
        _sync(dev)
        seconds = time.perf_counter() - start
        if recalibrate_bn is None:
            recalibrate_bn = steps < RECALIBRATE_BELOW_STEPS
        recalibrated = bool(recalibrate_bn) and recalibrate_batchnorm(model, data, amp=use_amp)
        metrics = evaluate(model, data, amp=use_amp)
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    return TrainResult(
        arch=Arch(space.name, widths), metrics=metrics, loss_curve=curve,
        train_seconds=seconds, samples_per_s=samples / seconds if seconds > 0 else 0.0,
        epochs=done, epochs_planned=epochs, interrupted=interrupted, seed=seed,
        device=str(dev), amp=use_amp, batch_size=batch_size, lr=float(lr), state_dict=state,
        bn_recalibrated=recalibrated)
