"""``(arch, seed) -> metrics`` for the search, with the data set prepared once."""

from __future__ import annotations

from typing import Any

from .._core.arch import Arch
from .._core.validation import check_choice, check_number
from ..space.base import ChainSpace
from .data_device import DeviceData, prepare_data
from .loop import train


class Evaluator:
    """``(arch, seed) -> metrics`` for the search; the data set is prepared once.

    The dict holds the metrics, ``"score"`` (see :attr:`TrainResult.score`: validation accuracy
    when there is a validation split, else test accuracy; AUC for the anomaly task),
    ``"train_seconds"``, ``"samples_per_s"`` and ``"epochs"``; with ``keep_weights`` also the
    CPU ``"state_dict"`` and the full ``"train_result"`` (for the caller to save). A
    KeyboardInterrupt is not swallowed: a half-trained candidate must not enter the search
    history.
    """

    def __init__(self, space: ChainSpace, dataset: Any, *, epochs: int | None = None,
                 batch_size: int | None = None, lr: float = 1e-3, device: str = "auto",
                 amp: bool = False, progress: bool = False, deterministic: bool = True,
                 max_device_bytes: int | None = None, keep_weights: bool = False,
                 threads: int | None = None) -> None:
        check_choice(str(device).split(":")[0], "device", "make_evaluator()",
                     ("auto", "cpu", "cuda"))
        self.space = space
        self.dataset = dataset
        if threads is not None:
            check_number(threads, "threads", "the trainer (--threads)", lo=1, integer=True,
                         fix="Give at least 1, or leave --threads out for the automatic count.")
        self.kwargs = dict(epochs=epochs, batch_size=batch_size, lr=lr, amp=amp,
                           progress=progress, deterministic=deterministic, threads=threads)
        self.device = device
        self.max_device_bytes = max_device_bytes
        self.keep_weights = keep_weights
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
        out = {**result.metrics, "score": result.score, "train_seconds": result.train_seconds,
               "samples_per_s": result.samples_per_s, "epochs": result.epochs}
        if self.keep_weights:
            out.update(state_dict=result.state_dict, train_result=result.to_dict())
        return out


def make_evaluator(space: ChainSpace, dataset: Any, *, epochs: int | None = None,
                   **kwargs: Any) -> Evaluator:
    """The ``(arch, seed) -> metrics`` callable of :class:`Evaluator` (keywords as train)."""
    return Evaluator(space, dataset, epochs=epochs, **kwargs)


def save_trial_artifacts(trial_dir: Any, extra: dict[str, Any]) -> None:
    """A trained candidate's weights and other results, into the run's trial folder."""
    from .._core.fileio import atomic_torch_save
    from ..runs.rundir import write_trial_files

    sd = extra.get("state_dict")
    write_trial_files(trial_dir, weights=None if sd is None else
                      (lambda path: atomic_torch_save(path, sd)),
                      extra={k: v for k, v in extra.items() if k != "state_dict"})


def _from_record(record: Any, runtime: Any) -> tuple[Any, Any]:
    """The search's ``train`` evaluator: the record's data set, epochs and train options."""
    from ..data import get_dataset

    t = record.training
    kw = {"device": runtime.get("device", "auto"), "threads": runtime.get("threads"),
          **dict(t.options)}
    evaluate = make_evaluator(record.space, get_dataset(t.dataset), epochs=t.epochs,
                              keep_weights=True, **kw)
    return evaluate, save_trial_artifacts


def _register() -> None:
    from ..search.evaluators import EVALUATORS, EvaluatorKind

    EVALUATORS.register("train", EvaluatorKind(
        "train", _from_record, "train every candidate (entronas.train), selecting on the "
        "validation split"), overwrite=True)


_register()
