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
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn

from .._core.arch import Arch
from .._core.errors import InvalidParameterError
from .._core.rng import derive_seed
from .._core.validation import check_choice, check_number
from ..models.build import BN_MOMENTUM, ChainNet, build_model
from ..space.base import ChainSpace
from .config import TrainResult, default_batch_size, default_epochs

#: fraction of free CUDA memory the resident data set may take
DEVICE_FRACTION = 0.5
EVAL_BATCH = 1024
#: below this many optimizer steps the Keras-style running BN statistics (momentum 0.01) still
#: carry more than 0.1 % of their initial values, so "auto" recalibrates them after training
RECALIBRATE_BELOW_STEPS = math.ceil(math.log(1e-3) / math.log(1.0 - BN_MOMENTUM))
#: on the CPU, batches of fewer forward FLOPs than this train on one thread: for such tiny ops
#: thread hand-offs cost more than they save, and on a busy machine spinning OpenMP workers
#: made mlp-digits 30x slower (0.2 s -> 7 s) with 2 threads on 2 shared cores
SINGLE_THREAD_BELOW_FLOPS = 50_000_000


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cuda"`` without CUDA is an error."""
    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidParameterError(
            f"device {name!r} requested but CUDA is not available; use --device cpu or auto")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise InvalidParameterError(
            f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from exc


# ------------------------------------------------------------------------------------ data
@dataclass
class DeviceData:
    """The splits of one data set as tensors shaped like the space's input.

    ``resident``: the tensors live on ``device`` (batches are gathered there); otherwise they
    stay on the host and each batch is copied.
    """

    name: str
    task: str
    device: torch.device
    resident: bool
    input_shape: tuple[int, ...]
    num_classes: int
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    transform: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None
    transform_name: str | None
    dataset: Any


def _as_tensor(a: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> torch.Tensor:
    arr = np.ascontiguousarray(a, dtype=dtype)
    with warnings.catch_warnings():  # read-only memmaps: we never write to them
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        t = torch.from_numpy(arr)
    return t.reshape(len(arr), *shape) if shape else t


def _fit_shape(x: np.ndarray, space: ChainSpace, dataset: Any, split: str) -> tuple[int, ...]:
    target = tuple(space.input_shape)
    have = tuple(x.shape[1:])
    if have == target or math.prod(have) == math.prod(target):
        return target
    raise InvalidParameterError(
        f"dataset {dataset.name!r} {split} inputs have shape {have} but space {space.name!r} "
        f"expects {target}; pick a space made for this data set")


def prepare_data(space: ChainSpace, dataset: Any, device: str | torch.device = "auto", *,
                 max_device_bytes: int | None = None) -> DeviceData:
    """Convert an ``ArrayDataset`` once into tensors on ``device`` (when it fits).

    Inputs are reshaped to ``space.input_shape`` when the element counts match (the digits
    images (1, 8, 8) feed the (64,) MLP). ``max_device_bytes`` caps the resident size; the
    default is half the free CUDA memory on GPUs and unlimited on the CPU (the arrays are
    host memory already, memory maps are shared, not copied).
    """
    dev = resolve_device(device)
    splits = ("train", "val", "test")
    xs = {s: getattr(dataset, f"x_{s}") for s in splits}
    ys = {s: getattr(dataset, f"y_{s}") for s in splits}
    if len(xs["train"]) == 0:
        raise InvalidParameterError(f"dataset {dataset.name!r} has no training samples")
    shape = _fit_shape(xs["train"], space, dataset, "train")
    for s in ("val", "test"):
        if len(xs[s]):
            _fit_shape(xs[s], space, dataset, s)
    size = sum(int(np.asarray(xs[s]).size) * 4 + int(np.asarray(ys[s]).size) * 8
               for s in splits)
    if max_device_bytes is None:
        if dev.type == "cuda":
            free, _ = torch.cuda.mem_get_info(dev)
            max_device_bytes = int(free * DEVICE_FRACTION)
        else:
            max_device_bytes = sys.maxsize
    resident = size <= max_device_bytes
    tensors: dict[str, torch.Tensor] = {}
    for s in splits:
        x = _as_tensor(xs[s], shape, np.float32)
        y = _as_tensor(np.asarray(ys[s]).reshape(-1), (), np.int64)
        if resident:
            x, y = x.to(dev), y.to(dev)
        tensors[f"x_{s}"], tensors[f"y_{s}"] = x, y
    transform = None
    name = getattr(dataset, "train_transform", None)
    if name:
        from ..data.augment import get_transform

        transform = get_transform(name)
    return DeviceData(dataset.name, dataset.task, dev, resident, shape,
                      int(getattr(dataset, "num_classes", 0)), transform=transform,
                      transform_name=name, dataset=dataset, **tensors)


def _check_task(space: ChainSpace, data: DeviceData) -> int | None:
    """The classifier size to build with (None: keep the space's); errors on a mismatch."""
    if data.task == "classification":
        if space.num_classes:
            return data.num_classes
        return None
    if data.task == "anomaly":
        if space.num_classes:
            raise InvalidParameterError(
                f"dataset {data.name!r} is an anomaly task (reconstruction) but space "
                f"{space.name!r} ends in a {space.num_classes}-way classifier; use an "
                "autoencoder space such as autoencoder-ad")
        return None
    raise InvalidParameterError(f"unknown task {data.task!r} of dataset {data.name!r}")


# ------------------------------------------------------------------------------------ loop
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


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _fetch(x: torch.Tensor, idx: torch.Tensor, data: DeviceData) -> torch.Tensor:
    """Gather a batch; for host-resident data copy only the batch (pinned on CUDA)."""
    out = x.index_select(0, idx)
    if data.resident:
        return out
    if data.device.type == "cuda":
        return out.pin_memory().to(data.device, non_blocking=True)
    return out.to(data.device)


def train(space: ChainSpace, arch: Arch | tuple[int, ...] | list[int], dataset: Any, *,
          epochs: int | None = None, batch_size: int | None = None, lr: float = 1e-3,
          seed: int = 0, device: str = "auto", amp: bool = False, progress: bool = True,
          deterministic: bool = True, handle_interrupt: bool = True,
          max_device_bytes: int | None = None, recalibrate_bn: bool | None = None,
          threads: int | None = None, channels_last: bool | None = None) -> TrainResult:
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
            FLOPs and torch's setting otherwise. Ignored on CUDA.
        channels_last: keep conv weights (and so activations) in channels-last memory format;
            None = on for networks with convolutions (about 1.3x faster DS-CNN training on
            CPU with oneDNN, and the layout tensor cores want on CUDA).
    """
    owner = "train()"
    check_number(lr, "lr", owner, lo=0, closed="neither")
    check_number(seed, "seed", owner, lo=0, integer=True)
    epochs = default_epochs(space) if epochs is None else check_number(
        epochs, "epochs", owner, lo=1, integer=True)
    batch_size = default_batch_size(space) if batch_size is None else check_number(
        batch_size, "batch_size", owner, lo=1, integer=True)
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
        threads = 1 if batch_flops < SINGLE_THREAD_BELOW_FLOPS else None
    else:
        check_number(threads, "threads", owner, lo=1, integer=True)

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
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
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


# ------------------------------------------------------------------------------ evaluation
@torch.no_grad()
def recalibrate_batchnorm(model: ChainNet, data: DeviceData, *, amp: bool = False) -> bool:
    """Set every BatchNorm's running mean/var to the training-set average (one pass).

    Returns False when the model has no BatchNorm. Uses the un-augmented training inputs.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return False
    saved = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average over the chunks
    model.train()
    x = data.x_train
    n = len(x)
    # equal-sized chunks, so the cumulative average is the mean over the data set
    chunk = max(2, -(-n // max(1, -(-n // EVAL_BATCH))))
    try:
        for a in range(0, n - 1, chunk):
            xb = x[a:a + chunk]
            if len(xb) < 2:
                break
            if not data.resident:
                xb = xb.to(data.device, non_blocking=True)
            with torch.autocast(data.device.type, dtype=torch.float16, enabled=amp):
                model(xb)
    finally:
        for bn, m in zip(bns, saved):
            bn.momentum = m
        model.eval()
    return True


@torch.inference_mode()
def _outputs(model: ChainNet, x: torch.Tensor, data: DeviceData, amp: bool,
             fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``fn(output, input)`` over ``x`` in chunks, concatenated (stays on the device)."""
    parts = []
    for a in range(0, len(x), EVAL_BATCH):
        xb = x[a:a + EVAL_BATCH]
        if not data.resident:
            xb = xb.to(data.device, non_blocking=True)
        with torch.autocast(data.device.type, dtype=torch.float16, enabled=amp):
            out = model(xb)
        parts.append(fn(out.float(), xb))
    return torch.cat(parts) if parts else torch.zeros(0, device=data.device)


def evaluate(model: ChainNet, data: DeviceData, *, amp: bool = False) -> dict[str, Any]:
    """Test (and validation) metrics of a trained model in eval mode."""
    model.eval()
    metrics: dict[str, Any] = {}
    if data.task == "classification":
        for split in ("val", "test"):
            x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
            if len(x) == 0:
                metrics[f"{split}_accuracy"] = math.nan
                continue
            logits = _outputs(model, x, data, amp, lambda out, _x: out)
            y = y.to(logits.device)
            metrics[f"{split}_accuracy"] = float((logits.argmax(1) == y).float().mean())
            metrics[f"{split}_loss"] = float(nn.functional.cross_entropy(logits, y))
        metrics["accuracy"] = metrics.pop("test_accuracy")
        return metrics

    def err(out: torch.Tensor, xb: torch.Tensor) -> torch.Tensor:
        return ((out - xb.reshape(out.shape).float()) ** 2).mean(dim=1)

    if len(data.x_val):
        metrics["val_loss"] = float(_outputs(model, data.x_val, data, amp, err).mean())
    errors = _outputs(model, data.x_test, data, amp, err).cpu().double().numpy()
    metrics["test_loss"] = float(errors.mean()) if len(errors) else math.nan
    from ..data.toyadmos import anomaly_scores_to_metrics

    metrics.update(anomaly_scores_to_metrics(errors, data.dataset))
    return metrics


# ------------------------------------------------------------------------------- evaluator
class Evaluator:
    """``(arch, seed) -> metrics`` for the search; the data set is prepared once.

    The dict holds the metrics, ``"score"`` (see :attr:`TrainResult.score`: validation accuracy
    when there is a validation split, else test accuracy; AUC for the anomaly task),
    ``"train_seconds"``, ``"samples_per_s"`` and ``"epochs"``. A KeyboardInterrupt is not
    swallowed: a half-trained candidate must not enter the search history.
    """

    def __init__(self, space: ChainSpace, dataset: Any, *, epochs: int | None = None,
                 batch_size: int | None = None, lr: float = 1e-3, device: str = "auto",
                 amp: bool = False, progress: bool = False, deterministic: bool = True,
                 max_device_bytes: int | None = None) -> None:
        check_choice(str(device).split(":")[0], "device", "make_evaluator()",
                     ("auto", "cpu", "cuda"))
        self.space = space
        self.dataset = dataset
        self.kwargs = dict(epochs=epochs, batch_size=batch_size, lr=lr, amp=amp,
                           progress=progress, deterministic=deterministic)
        self.device = device
        self.max_device_bytes = max_device_bytes
        self._data: DeviceData | None = None

    @property
    def data(self) -> DeviceData:
        if self._data is None:
            self._data = prepare_data(self.space, self.dataset, self.device,
                                      max_device_bytes=self.max_device_bytes)
        return self._data

    def __call__(self, arch: Arch | tuple[int, ...], seed: int = 0) -> dict[str, Any]:
        result = train(self.space, arch, self.data, seed=seed, handle_interrupt=False,
                       **self.kwargs)
        return {**result.metrics, "score": result.score, "train_seconds": result.train_seconds,
                "samples_per_s": result.samples_per_s, "epochs": result.epochs}


def make_evaluator(space: ChainSpace, dataset: Any, *, epochs: int | None = None,
                   **kwargs: Any) -> Evaluator:
    """The ``(arch, seed) -> metrics`` callable of :class:`Evaluator` (keywords as train)."""
    return Evaluator(space, dataset, epochs=epochs, **kwargs)
