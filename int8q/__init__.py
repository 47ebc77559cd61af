"""int8q: fast, exact INT8 quantization for NumPy arrays and checkpoints.

    >>> import numpy as np, int8q
    >>> qt = int8q.quantize(np.array([1.0, -1.0, 0.5, -0.5], dtype=np.float32))
    >>> qt.q, qt.scale
    (array([ 127, -127,   64,  -64], dtype=int8), array(0.00787402, dtype=float32))

Documentation: https://int8q.readthedocs.io/ (the user guide, the API
reference and the specification every function follows).  int8q.reference
holds the same rules in plain NumPy; every fast path is tested against it.
The add-ons are int8q.io (checkpoints), int8q.ggml (GGUF Q8_0), int8q.dask,
int8q.zarr and int8q.codec, each imported on its own.
"""

import importlib.util as _importlib_util
import os as _os

# From a checkout that was never built in place, `import int8q` finds the
# source folder before the installed package, and its modules fail deep
# inside on the missing compiled core.  Say what happened instead, as NumPy
# does from its source tree.
if _importlib_util.find_spec(f"{__name__}._kernels") is None:
    _here = _os.path.dirname(_os.path.abspath(__file__))
    if _os.path.exists(_os.path.join(_here, _os.pardir, "setup.py")):
        raise ImportError(
            f"int8q was imported from its source folder ({_here}), which has no compiled "
            "core (int8q._kernels): Python found the checkout before the installed "
            "package. Install int8q (pip install . in the checkout) and run Python "
            "from another folder."
        )
    raise ImportError(
        f"int8q's compiled core (int8q._kernels) is missing from {_here}: the installation "
        "is incomplete; reinstall int8q (pip install --force-reinstall int8q)."
    )

# Idle OpenMP workers sleep instead of spinning: on a busy machine spinning
# workers steal the cores the next call needs.  Read by the OpenMP runtime
# when it loads with _kernels, so it must be set first; a value the user set
# wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ._api import QTensor, absmax, dequantize, quantize, quantize_dequantize
from ._calibrate import Calibrator
from ._config import (
    available_simd,
    get_num_threads,
    get_simd,
    set_num_threads,
    set_simd,
    show_config,
)
from ._seed import int8_quantize
from ._version import __version__

__all__ = [
    "Calibrator",
    "QTensor",
    "absmax",
    "available_simd",
    "dequantize",
    "get_num_threads",
    "get_simd",
    "int8_quantize",
    "quantize",
    "quantize_dequantize",
    "set_num_threads",
    "set_simd",
    "show_config",
    "__version__",
]
