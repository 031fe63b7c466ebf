"""``python -m common.play.child MODULE ARGS...``: run ``python -m MODULE ARGS...`` as a unit of a play that dies
with the play (Linux's parent-death signal, set here in the child rather than in a ``preexec_fn``, which is unsafe
in a parent with threads); a child whose play died before the signal was set exits at once."""
from __future__ import annotations

import ctypes
import os
import runpy
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the unit outlives a killed play (the run lock guards its run)
        return
    if os.getppid() != parent:  # the play died between the start of this process and the line above
        os._exit(1)


if __name__ == "__main__":
    die_with_parent(int(os.environ.pop("KIT_PLAY_PARENT", os.getppid())))
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
