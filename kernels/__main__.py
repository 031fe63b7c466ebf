"""``python -m kernels push|status|output``: run kit kernels on Kaggle and bring their runs home.

    python -m kernels push kernels/build/kit-nexperia-train-fold-0 [--wait] [--timeout 43200] [--fetch]
    python -m kernels status USER/kit-nexperia-train-fold-0 [--wait]
    python -m kernels output USER/kit-nexperia-train-fold-0 [--runs-dir runs]
    python -m kernels push-dataset kernels/build/kit-weights-efficientnet-lite0 [--notes TEXT]

``push-dataset`` creates (or versions) a dataset from a folder with ``dataset-metadata.json``: the weights
dataset ``kernels.build`` writes for a run with known weights (``--pretrained efficientnet_lite0``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from kernels import remote
from kernels.pack_code import push_dataset
from common.errors import MissingInput
from common.cli import add_debug, cli, failed
from common.kaggle_client import KaggleError, connect, kernel_status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kernels", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    push_p = sub.add_parser("push", help="push a kernel folder (starts a run)")
    push_p.add_argument("folder", type=Path)
    status_p = sub.add_parser("status", help="status of a kernel's latest run")
    status_p.add_argument("kernel", help="USER/SLUG or a kernel folder")
    output_p = sub.add_parser("output", help="download a kernel's output runs into runs/")
    output_p.add_argument("kernel", help="USER/SLUG or a kernel folder")
    dataset_p = sub.add_parser("push-dataset", help="create or version a dataset folder (e.g. a weights dataset)")
    dataset_p.add_argument("folder", type=Path)
    dataset_p.add_argument("--notes", default="kit update", help="version notes when versioning")
    add_debug(dataset_p)
    for p in (push_p, status_p):
        p.add_argument("--wait", action="store_true", help="poll until the run ends")
        p.add_argument("--timeout", type=float, default=12 * 3600, help="seconds to wait at most")
        p.add_argument("--poll", type=float, default=30.0, help="seconds between status checks")
        p.add_argument("--fetch", action="store_true", help="after a complete run, download its output")
    for p in (push_p, status_p, output_p):
        p.add_argument("--runs-dir", type=Path, default=None, help="where outputs go (default runs/)")
        add_debug(p)
    add_debug(parser)
    args = parser.parse_args(argv)
    try:
        if args.command == "push-dataset":
            if not (args.folder / "dataset-metadata.json").is_file():
                raise MissingInput(f"{args.folder} is not a dataset folder (no dataset-metadata.json): "
                                        "kernels.build writes one for a run with known weights")
            print(f"dataset {push_dataset(args.folder, args.notes)} is up to date on Kaggle")
            return 0
        api = connect()
        if args.command == "push":
            pushed = remote.push(args.folder, api)
            print(f"pushed {pushed['ref']} version {pushed['version']}: {pushed['url']}")
            ref = remote.kernel_ref(args.folder)
        else:
            ref = remote.kernel_ref(args.kernel)
        if args.command == "output":
            runs = remote.fetch_output(ref, args.runs_dir, api)
            print("runs updated: " + (", ".join(map(str, runs)) or "none in the output"))
            return 0
        if args.wait:
            status = remote.wait(ref, api, args.timeout, args.poll)
        else:
            status, failure = kernel_status(api, ref)
            print(f"{ref}: {status}" + (f" ({failure})" if failure else ""))
        if args.fetch and status == "COMPLETE":
            runs = remote.fetch_output(ref, args.runs_dir, api)
            print("runs updated: " + (", ".join(map(str, runs)) or "none in the output"))
        return 0 if status != "ERROR" else 1
    except (KaggleError, FileNotFoundError, TimeoutError) as error:
        return failed("FAILED", error, args.debug)


if __name__ == "__main__":
    sys.exit(cli(main))
