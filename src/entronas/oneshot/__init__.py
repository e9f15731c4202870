"""One-shot baseline: a DARTS-style width/depth supernet over X (the paper's Fig. 5 comparison).

Needs the ``torch`` extra. ``train_supernet(space, dataset, ...)`` returns the supernet's
accuracy over wall time and the architecture it derives after every epoch, with that
architecture's ROM/RAM/FLOPs and whether it fits the target, which the paper's point is about:
a supernet trained on X can hand out networks that do not fit the MCU.
"""

from .darts import DartsResult, WidthSupernet, train_supernet

__all__ = ["DartsResult", "WidthSupernet", "train_supernet"]
