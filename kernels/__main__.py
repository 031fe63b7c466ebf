"""``python -m kernels push|status|output``: run kit kernels on Kaggle and bring their runs home.

    python -m kernels push kernels/build/kit-nexperia-train-fold-0 [--wait] [--timeout 43200] [--fetch]
    python -m kernels status USER/kit-nexperia-train-fold-0 [--wait]
    python -m kernels output USER/kit-nexperia-train-fold-0 [--runs-dir runs] [--name RUN=NEW]
    python -m kernels push-dataset kernels/build/kit-weights-efficientnet-lite0 [--notes TEXT]

``push-dataset`` creates (or versions) a dataset from a folder with ``dataset-metadata.json``: the weights
dataset ``kernels.build`` writes for a run with known weights (``--pretrained efficientnet_lite0``).
A kernel's run never replaces a local run made by another recipe (``kernels.merge``): ``--name RUN=NEW`` brings it
in under another name.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from common.cli import run_cli
from common.config import option, parse_subcommand
from common.errors import MissingInput
from common.kaggle_client import connect, kernel_status
from kernels import remote
from kernels.pack_code import push_dataset


@dataclass
class WaitOptions:
    """What ``push`` and ``status`` share: waiting for the run to end, then fetching its output."""
    wait: bool = option(False, help="poll until the run ends")
    timeout: float = option(12 * 3600, min=0, help="seconds to wait at most")
    poll: float = option(30.0, min=0, help="seconds between status checks")
    fetch: bool = option(False, help="after a complete run, download its output")
    runs_dir: str | None = option(None, help="where outputs go (default runs/)")
    name: list[str] = option(default_factory=list, append=True, metavar="RUN=NEW",
                             help="bring the output's run RUN in as runs/<competition>/NEW (NEW alone: its only run)")


@dataclass
class PushOptions(WaitOptions):
    """Push a kernel folder (starts a run)."""
    folder: str = option(positional=True, required=True, help="the kernel folder kernels.build wrote")


@dataclass
class StatusOptions(WaitOptions):
    """Status of a kernel's latest run."""
    kernel: str = option(positional=True, required=True, help="USER/SLUG or a kernel folder")


@dataclass
class OutputOptions:
    """Download a kernel's output runs into runs/."""
    kernel: str = option(positional=True, required=True, help="USER/SLUG or a kernel folder")
    runs_dir: str | None = option(None, help="where outputs go (default runs/)")
    name: list[str] = option(default_factory=list, append=True, metavar="RUN=NEW",
                             help="bring the output's run RUN in as runs/<competition>/NEW (NEW alone: its only run)")


@dataclass
class PushDatasetOptions:
    """Create or version a dataset folder (e.g. a weights dataset)."""
    folder: str = option(positional=True, required=True, help="a folder with dataset-metadata.json")
    notes: str = option("kit update", help="version notes when versioning")


COMMANDS = {"push": PushOptions, "status": StatusOptions, "output": OutputOptions, "push-dataset": PushDatasetOptions}


def main(argv: Sequence[str] | None = None) -> int:
    command, opts = parse_subcommand(COMMANDS, argv, __doc__.splitlines()[0], prog="python -m kernels")
    if command == "push-dataset":
        if not (Path(opts.folder) / "dataset-metadata.json").is_file():
            raise MissingInput(f"{opts.folder} is not a dataset folder (no dataset-metadata.json): kernels.build "
                               "writes one for a run with known weights")
        print(f"dataset {push_dataset(opts.folder, opts.notes)} is up to date on Kaggle")
        return 0
    api = connect()
    if command == "push":
        pushed = remote.push(opts.folder, api)
        print(f"pushed {pushed['ref']} version {pushed['version']}: {pushed['url']}")
        ref = remote.kernel_ref(opts.folder)
    else:
        ref = remote.kernel_ref(opts.kernel)
    if command == "output":
        print_fetched(remote.fetch_output(ref, opts.runs_dir, api, opts.name))
        return 0
    if opts.wait:
        status = remote.wait(ref, api, opts.timeout, opts.poll)
    else:
        status, failure = kernel_status(api, ref)
        print(f"{ref}: {status}" + (f" ({failure})" if failure else ""))
    if opts.fetch and status == "COMPLETE":
        print_fetched(remote.fetch_output(ref, opts.runs_dir, api, opts.name))
    return 0 if status != "ERROR" else 1


def print_fetched(runs: list[Path]) -> None:
    print("runs brought in or added to: " + (", ".join(map(str, runs)) or "none"))


if __name__ == "__main__":
    sys.exit(run_cli(main))
