"""``python -m submissions.report``: write the report page (see the package docstring)."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Sequence

from common.cli import run_cli
from common.config import option, parse_config
from common.errors import BadInput, KitError
from submissions.report.page import write_report


@dataclass
class ReportOptions:
    """One self-contained HTML page about every run, blend and submission."""
    competition: list[str] | None = option(None, append=True,
                                           help="only this competition (repeatable; default: every competition "
                                                "found)")
    out: str | None = option(None, help="the HTML file to write (default: report.html beside the submission "
                                        "files)")
    runs_dir: str | None = option(None, help="runs root (default: runs/ or $KIT_RUNS_ROOT)")
    ledger: str | None = option(None, help="the submission ledger (default: ledger.sqlite under "
                                           "$KIT_SUBMISSIONS_ROOT or submissions/)")
    files_root: str | None = option(None, help="where submission files are (default: files/ under "
                                               "$KIT_SUBMISSIONS_ROOT or submissions/)")


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_config(ReportOptions, argv)
    try:
        path = write_report(opts.out, competitions=opts.competition, runs_dir=opts.runs_dir, ledger=opts.ledger,
                            files_root=opts.files_root)
    except KitError:
        raise
    except OSError as error:  # a folder that cannot be made or read: a path the user gave
        raise BadInput(f"report not written: {error.strerror or error}: {error.filename}") from error
    print(f"report: {path.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
