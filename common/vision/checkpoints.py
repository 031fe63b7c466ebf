"""A fold's checkpoints, kept as timm's ``CheckpointSaver`` keeps them, and their average (``avg_checkpoints.py``).

In the fold folder: ``last.pt`` (the resume point, every epoch: model, EMA, optimiser, schedule, state),
``best.pt`` (the weights of the best epoch) and ``checkpoint-<epoch>.pt`` for the ``max_history`` best
epochs. ``best.pt`` and ``checkpoint-*.pt`` hold the weights that were validated (the EMA weights when
training keeps an EMA) under ``model``, so any reader loads ``ckpt["model"]``.
"""
from __future__ import annotations

import errno
import pickle
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import torch

from common.errors import BadInput, MissingInput
from common.io import atomic_path

BEST, LAST = "best.pt", "last.pt"
CHECKPOINT_CHOICES = ("best", "last", "avg")  # what predicting from a fold may use


def history_path(fold_dir: Path, epoch: int) -> Path:
    """The kept weights of epoch ``epoch`` in a fold folder."""
    return Path(fold_dir) / f"checkpoint-{epoch}.pt"


def kept_checkpoints(fold_dir: Path) -> list[Path]:
    """The kept epochs' weight files of a fold folder, by epoch."""
    return sorted(Path(fold_dir).glob("checkpoint-*.pt"), key=lambda p: int(p.stem.split("-")[1]))


def fold_checkpoint(fold_dir: Path, which: str = "best") -> Path:
    """``best.pt`` or ``last.pt`` of a fold folder."""
    if which not in ("best", "last"):
        raise BadInput(f"checkpoint {which!r}: best or last")
    return Path(fold_dir) / (BEST if which == "best" else LAST)


def save_checkpoint(path: Path, checkpoint: dict) -> Path:
    """``torch.save`` that never leaves a half-written file."""
    with atomic_path(path) as tmp, tmp.open("wb") as handle:  # Python's write names a full disk
        torch.save(checkpoint, handle)
    return Path(path)


class DamagedCheckpoint(BadInput):
    """A checkpoint file that cannot be read: truncated (a copy or a download cut short) or not a torch file."""

    def __init__(self, path: Path, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"checkpoint {path} is damaged ({reason}): train its fold again (--no-resume) or put an "
                         "intact copy of the file back")


def load_checkpoint(path: Path, device: str | torch.device = "cpu") -> dict:
    """A checkpoint file's content; a file that cannot be read as one is a :class:`DamagedCheckpoint`."""
    path = Path(path)
    if not path.is_file():
        raise MissingInput(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=device, weights_only=False)
    except (EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as err:
        raise DamagedCheckpoint(path, _first_line(err)) from err
    except RuntimeError as err:  # torch's zip reader: "PytorchStreamReader failed reading zip archive ..."
        if "PytorchStreamReader" not in str(err):
            raise
        raise DamagedCheckpoint(path, _first_line(err)) from err
    except OSError as err:  # a truncated file read through a memory map: EINVAL
        if err.errno not in (errno.EINVAL, errno.EIO):
            raise
        raise DamagedCheckpoint(path, _first_line(err)) from err


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0].rstrip(".")


def set_aside(path: Path) -> Path:
    """Rename a damaged file out of the way (``last.pt`` -> ``last.damaged-<UTC time>.pt``), never deleting it."""
    path = Path(path)
    aside = path.with_name(f"{path.stem}.damaged-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}{path.suffix}")
    path.rename(aside)
    return aside


def inference_weights(checkpoint: dict) -> dict:
    """The weights to predict with: the EMA weights of a resume checkpoint when it has them, else ``model``."""
    return checkpoint.get("ema") or checkpoint["model"]


class CheckpointSaver:
    """Writes ``best.pt`` when the metric improves and keeps the ``max_history`` best epochs' weights.

    ``history`` (``[[metric, epoch], ...]``, best first) is the saver's whole state: keep it in the resume
    checkpoint and hand it back, so a resumed run keeps and deletes the same files. Higher is better; a tie
    keeps the earlier epoch. ``write=False`` (ranks other than the main one) tracks without writing.
    """

    def __init__(self, folder: Path, max_history: int, history: list | None = None, write: bool = True):
        self.folder, self.max_history, self.write = Path(folder), max_history, write
        self.history: list[list] = [list(h) for h in history or []]

    def path(self, epoch: int) -> Path:
        return history_path(self.folder, epoch)

    @property
    def best(self) -> tuple[float, int] | None:
        return tuple(self.history[0]) if self.history else None

    def paths(self) -> list[Path]:
        """The kept epochs' files, best first."""
        return [self.path(epoch) for _, epoch in self.history[:self.max_history]]

    def update(self, epoch: int, metric: float, checkpoint: dict) -> bool:
        """Record ``epoch``'s ``metric`` and weights; True when it is the new best."""
        improved = not self.history or metric > self.history[0][0]
        entries = sorted([*self.history, [metric, epoch]], key=lambda h: (-h[0], h[1]))
        kept, dropped = entries[:max(self.max_history, 1)], entries[max(self.max_history, 1):]
        self.history = kept
        if self.write:
            if self.max_history and [metric, epoch] in kept:
                save_checkpoint(self.path(epoch), checkpoint)
            for _, old in dropped:
                self.path(old).unlink(missing_ok=True)
            if improved:
                save_checkpoint(self.folder / BEST, checkpoint)
        return improved


def average_state_dicts(state_dicts: list[dict]) -> dict:
    """The mean of each floating tensor (parameters and BatchNorm buffers, summed in float64), as timm's
    ``avg_checkpoints.py`` does; integer tensors (BatchNorm's batch counters) come from the first."""
    if not state_dicts:
        raise BadInput("no checkpoints to average")
    out = {}
    for key, first in state_dicts[0].items():
        if first.is_floating_point():
            total = sum(sd[key].to(torch.float64) for sd in state_dicts)
            out[key] = (total / len(state_dicts)).to(first.dtype)
        else:
            out[key] = first.clone()
    return out


def average_checkpoints(paths: list[Path], device: str | torch.device = "cpu") -> dict:
    """The averaged ``model`` weights of checkpoint files (e.g. a :class:`CheckpointSaver`'s ``paths()``)."""
    return average_state_dicts([load_checkpoint(p, device)["model"] for p in paths])
