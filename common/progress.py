"""Progress bars that stay quiet in logs: off when asked (``--no-progress``) and when stderr is no terminal."""
from __future__ import annotations

from typing import Any, Iterable

from tqdm.auto import tqdm


def progress_bar(iterable: Iterable | None = None, *, enabled: bool = True, **kwargs: Any) -> tqdm:
    """``tqdm(iterable, **kwargs)`` with its time estimate, shown only when ``enabled`` and on a terminal."""
    return tqdm(iterable, disable=None if enabled else True, **kwargs)
