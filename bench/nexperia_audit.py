"""Does the noisy-label audit pay off? Runs retrained with the audit applied vs the run it audited.

On synthetic data (``_truth.csv`` beside the images) each run's OOF predictions are scored against the
planted true labels and the given (noisy) ones, with DeLong 95% CIs, and each audited run is compared
with the base run on the same rows by a paired DeLong test. Also prints the audit's precision of the
top-k suspects (k = number of planted flips) from ``<base>/audit/audit.json``.

    python competitions/nexperia/noisy.py --oof runs/nexperia/cpu-resnet18w16-128
    python competitions/nexperia/train.py --config competitions/nexperia/configs/cpu.yaml --fold all \\
        --name cnn-audit-drop --suspects runs/nexperia/cpu-resnet18w16-128/audit/suspects.csv --suspect-action drop
    python bench/nexperia_audit.py --base runs/nexperia/cpu-resnet18w16-128 --audited runs/nexperia/cnn-audit-drop
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from common.ensemble import align
from common.metrics import auc_summary, delong_test
from common.run import RunFolder
from competitions.nexperia.data import read_truth_file, planted_labels


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the run whose OOF the audit used")
    parser.add_argument("--audited", type=Path, nargs="+", required=True, help="runs trained with the audit")
    parser.add_argument("--data", type=Path, default=Path("data/nexperia"), help="synthetic data with _truth.csv")
    args = parser.parse_args(argv)
    truth = read_truth_file(args.data)
    if truth is None:
        raise SystemExit(f"{args.data} has no _truth.csv: this comparison needs synthetic data")
    report = args.base / "audit" / "audit.json"
    if report.is_file():
        audit = json.loads(report.read_text())
        print(f"audit of {args.base}: {audit['n_suspects']} suspects, precision of the top "
              f"{audit['n_planted_flips']} = {audit['precision_at_k']:.3f}, recall of all suspects "
              f"{audit['recall_all_suspects']:.3f}")
    runs = {"base": args.base, **{str(path): path for path in args.audited}}
    aligned = align({name: RunFolder(path).read_oof() for name, path in runs.items()})
    labels = {"true": planted_labels(truth, aligned.ids), "given": aligned.y}
    print(f"{'run':<45} {'labels':<6} {'OOF AUC':>8} {'95% CI':>17} {'vs base':>8} {'p':>7}")
    for j, name in enumerate(aligned.names):
        for kind, y in labels.items():
            s = auc_summary(y, aligned.oof[:, j])
            diff = p = ""
            if j:
                auc_a, auc_b, _, p_value = delong_test(y, aligned.oof[:, j], aligned.oof[:, 0])
                diff, p = f"{auc_a - auc_b:+.4f}", f"{p_value:.3f}"
            label = str(args.base) if name == "base" else name
            print(f"{label:<45} {kind:<6} {s['auc']:8.4f} {s['ci_low']:8.4f}-{s['ci_high']:.4f} {diff:>8} {p:>7}")


if __name__ == "__main__":
    main()
