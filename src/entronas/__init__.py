"""entronas: entropy-sampling NAS for microcontroller targets (Heidorn et al.).

Data flows one way: space -> cost -> reduce (tree) -> proxy/sampling -> search -> train ->
results/export. The base install needs numpy/scipy only; torch and optuna parts are extras.
"""

__version__ = "0.1.0"

from ._core.arch import Arch  # noqa: E402
from ._core.errors import EntronasError  # noqa: E402

__all__ = ["Arch", "EntronasError", "__version__"]
