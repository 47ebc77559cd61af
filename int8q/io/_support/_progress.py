"""A progress bar over bytes, from tqdm (a dependency, imported only when a
bar is shown; without it, as after ``pip install --no-deps``, no bar)."""

import sys
from typing import Any, Literal


class Progress:
    """``update(nbytes)`` as work is done; a no-op when disabled or without tqdm.

    Use as a context manager so the bar is closed (and its line finished)
    before any error message is printed.
    """

    def __init__(self, total: int, enabled: bool, desc: str) -> None:
        self._bar: Any = None  # a tqdm bar (tqdm has no types)
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:  # optional dependency: no bar
                return
            self._bar = tqdm(
                total=total,
                desc=desc,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=sys.stderr,
                dynamic_ncols=True,
            )

    def update(self, nbytes: int) -> None:
        if self._bar is not None:
            self._bar.update(nbytes)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        if self._bar is not None:
            self._bar.close()
        return False
