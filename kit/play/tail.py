"""The end of a play, inside its budget: the blend (kept only when it beats the best run), the two final picks,
the timeline and ``play.html``, the kit's report of the play's runs and, with ``--submit``, the sending.

Each part is a decision of its own (``tail:blend``, ``tail:picks``, ``tail:report``, ``tail:submit``), so a play
killed in its tail resumes after the parts that ended."""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from common.errors import KitError
from common.io import atomic_write_json, atomic_write_text, read_json
from common.play.budget import format_seconds

REPORT_ESTIMATE_S = 15.0   # the kit's report of a play's runs (a dozen runs, 2-core CPU): skipped with less time left


class NothingToSubmit(KitError):
    """The play made no complete run within its budget."""


def finish_play(play) -> dict:
    """The tail's parts not ended yet, then ``play.json``'s summary and ``play.html``."""
    record = read_json(play.folder / "play.json")
    blend = tail_part(play, "blend", lambda: choose_result(play))
    picks = tail_part(play, "picks", lambda: final_picks(play, blend))
    write_timeline(play)
    tail_part(play, "report", lambda: kit_report(play))
    if getattr(play, "submit", False):
        tail_part(play, "submit", lambda: send(play, blend))
    summary = {"result": blend, "picks": picks["picks"], "spent_s": round(play.clock.spent(), 1),
               "budget_s": play.budget_s, "play_html": str(play.folder / "play.html")}
    atomic_write_json(play.folder / "play.json", {**record, "summary": summary})
    write_page(play, summary)
    return summary


def tail_part(play, name: str, work) -> dict:
    step = f"tail:{name}"
    ended = play.decisions.outcome(step)
    if ended is not None:
        return ended["notes"]
    at = round(play.clock.spent(), 2)
    notes = work()
    play.decisions.append({"event": "finish", "step": step, "status": "done", "at": at,
                           "spent_s": round(play.clock.spent() - at, 2), "notes": notes})
    return notes


def submission(play, runs: list[str], method: str) -> tuple[Path, dict]:
    from submissions.blend import make_submission
    return make_submission(play.competition, [str(play.runs_dir / play.competition / r) for r in runs], method,
                           data_dir=play.data, runs_dir=play.runs_dir, files_root=play.files_root, post=play.plan.post)


def choose_result(play) -> dict:
    """The best of the plan's blends of every kept run (nested-CV AUC) when it beats the best run's (paired DeLong
    z > 0), else the best run alone; every file is written, the result named in the record."""
    kept = [c for c in play.candidates() if c.kept]
    if not kept:
        raise NothingToSubmit(f"the play in {play.folder} made no complete run within its budget "
                              f"{format_seconds(play.budget_s)}: give a larger --budget (decisions.jsonl says what "
                              "each step got)")
    best = max(kept, key=lambda c: c.cv["auc"])
    single, single_meta = submission(play, [best.run], "rank")
    result = {"kind": "run", "file": str(single), "runs": [best.run], "cv": single_meta["cv"],
              "why": "the only complete run" if len(kept) == 1 else ""}
    if len(kept) > 1:
        method, path, meta, vs, tried = best_blend(play, [c.run for c in kept])
        beats = "rejected_blend" not in meta and vs["z"] > 0
        text = (f"{method} blend of {len(kept)} runs ({tried}): nested-CV AUC {vs['auc_blend']:.5f} vs best run "
                f"{vs['best_run']} {vs['auc_best']:.5f}, paired DeLong z = {vs['z']:.2f}, p = {vs['p']:.3g}")
        blend = {"file": str(path), "method": method, "runs": [r["name"] for r in meta["runs"]], "cv": meta["cv"],
                 "vs_best_run": vs}
        if beats:
            result = {"kind": "blend", **blend, "why": f"{text}: the blend is the result"}
        else:
            result["why"] = f"{text}: the blend does not beat its best run, the best run is the result"
            result["blend"] = blend
    play.echo(f"result: {result['kind']} {result['file']} (CV AUC {result['cv']['auc']:.5f}) - {result['why']}")
    return result


def best_blend(play, runs: list[str]) -> tuple[str, Path, dict, dict, str]:
    """Each of the plan's blend methods over ``runs``; the one of the best nested-CV AUC: its method, file, JSON,
    comparison with the best run, and every method's AUC as text."""
    tried = []
    for method in play.plan.blend_methods:
        path, meta = submission(play, runs, method)
        vs = meta.get("rejected_blend", {}).get("vs_best_run") or meta["vs_best_run"]
        tried.append((vs["auc_blend"], method, path, meta, vs))
    _, method, path, meta, vs = max(tried, key=lambda t: t[0])
    return method, path, meta, vs, ", ".join(f"{m} {a:.5f}" for a, m, *_ in tried)


def final_picks(play, result: dict) -> dict:
    """Pick 1: the result; pick 2, the hedge: another kind (the best single run when the result is a blend; when
    it is a run, the best run of another library, else the blend)."""
    kept = [c for c in play.candidates() if c.kept]
    by_run = {c.run: c for c in kept}
    picks = [{"pick": 1, "file": result["file"], "what": f"{result['kind']} {'+'.join(result['runs'])}",
              "cv_auc": result["cv"]["auc"]}]
    hedge: dict | None = None
    if result["kind"] == "blend":
        best = max(kept, key=lambda c: c.cv["auc"])
        path, meta = submission(play, [best.run], "rank")
        hedge = {"file": str(path), "what": f"run {best.run} ({best.family})", "cv_auc": meta["cv"]["auc"]}
    else:
        library = by_run[result["runs"][0]].library
        others = [c for c in kept if c.library != library]
        if others:
            other = max(others, key=lambda c: c.cv["auc"])
            path, meta = submission(play, [other.run], "rank")
            hedge = {"file": str(path), "what": f"run {other.run} ({other.library})", "cv_auc": meta["cv"]["auc"]}
        elif "blend" in result:
            hedge = {"file": result["blend"]["file"], "what": "blend " + "+".join(result["blend"]["runs"]),
                     "cv_auc": result["blend"]["cv"]["auc"]}
    if hedge:
        picks.append({"pick": 2, **hedge})
    for p in picks:
        play.echo(f"final pick {p['pick']}: {p['what']}, CV AUC {p['cv_auc']:.5f}: {p['file']}")
    return {"picks": picks}


def kit_report(play) -> dict:
    if play.replay is None and play.clock.left() < REPORT_ESTIMATE_S:
        return {"skipped": f"{format_seconds(play.clock.left())} left: the kit's report of the runs is left out "
                           f"(python -m submissions.report --runs-dir {play.runs_dir} --files-root {play.files_root})"}
    from submissions.report.__main__ import main as report_main
    out = play.folder / "report.html"
    report_main(["--competition", play.competition, "--runs-dir", str(play.runs_dir),
                 "--files-root", str(play.files_root), "--ledger", str(play.folder / "submissions" / "ledger.sqlite"),
                 "--out", str(out)])
    return {"report": str(out)}


def send(play, result: dict) -> dict:
    from submissions.submit import submit_file
    entry = submit_file(result["file"], f"kit play {play.folder.name}: {result['kind']} "
                                        f"{'+'.join(result['runs'])}", play.competition, data_dir=play.data)
    return {"sent": result["file"], "ledger_id": entry.get("id")}


def write_timeline(play) -> Path:
    """``timeline.png``: which step ran when (bars) and the best CV over time (line)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = play.decisions.finished()
    steps = [r for r in records if r.get("event") == "finish"]
    fig, (bars, cv) = plt.subplots(2, 1, figsize=(9, 1.6 + 0.32 * len(steps) + 2.4), sharex=True,
                                   gridspec_kw={"height_ratios": [max(len(steps), 1), 4]})
    for i, r in enumerate(steps):
        color = {"done": "tab:green", "partial": "tab:orange"}.get(r.get("status"), "tab:gray")
        bars.barh(i, r.get("spent_s", 0) / 60, left=r["at"] / 60, color=color)
    bars.set_yticks(range(len(steps)), [r["step"] for r in steps])
    bars.invert_yaxis()
    bars.axvline(play.budget_s / 60, color="black", linestyle="--", linewidth=1)
    points = sorted((r["at"] + r.get("spent_s", 0), c["cv"]["auc"], c["run"])
                    for r in steps for c in r.get("candidates", []))
    best, xs, ys = 0.0, [], []
    for t, auc, run in points:
        cv.scatter(t / 60, auc, color="tab:blue", s=14)
        best = max(best, auc)
        xs.append(t / 60)
        ys.append(best)
    cv.step(xs, ys, where="post", color="tab:red", label="best CV so far")
    cv.set_xlabel("minutes of the play (dashed: the budget)")
    cv.set_ylabel("OOF AUC")
    if xs:
        cv.legend(loc="lower right")
    bars.set_title(f"{play.competition} play, budget {format_seconds(play.budget_s)}")
    fig.tight_layout()
    path = play.folder / "timeline.png"
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    from common.io import atomic_write_bytes
    atomic_write_bytes(path, buffer.getvalue())
    return path


def write_page(play, summary: dict) -> Path:
    """``play.html``: the result and picks, the checks' warnings, every decision, the timeline."""
    rows = []
    warnings = []
    for r in play.decisions.finished():
        cv = r.get("cv") or {}
        cv_text = f"{cv['auc']:.5f} [{cv['ci_low']:.5f}, {cv['ci_high']:.5f}]" if cv else ""
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
            r["step"], r.get("status", ""), format_seconds(r.get("at", 0)), format_seconds(r.get("given_s", 0))
            if "given_s" in r else "", format_seconds(r.get("spent_s", 0)), r.get("units", ""), cv_text,
            r.get("reason", ""))) + "</tr>")
        warnings += (r.get("notes") or {}).get("warnings", [])
    picks = "".join(f"<li>pick {p['pick']}: {html.escape(p['what'])}, CV AUC {p['cv_auc']:.5f} "
                    f"(<code>{html.escape(Path(p['file']).name)}</code>)</li>" for p in summary["picks"])
    image = base64.b64encode((play.folder / "timeline.png").read_bytes()).decode()
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{play.competition} play</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left}}
table{{border-collapse:collapse}}.warn{{color:#a40}}</style></head><body>
<h1>{play.competition}: play of {format_seconds(play.budget_s)} ({format_seconds(summary['spent_s'])} spent)</h1>
<p>Result: <b>{summary['result']['kind']}</b> {html.escape('+'.join(summary['result']['runs']))}, CV AUC
{summary['result']['cv']['auc']:.5f}. {html.escape(summary['result']['why'])}</p>
<h2>Final picks</h2><ul>{picks}</ul>
{''.join(f'<p class="warn">warning: {html.escape(w)}</p>' for w in warnings)}
<h2>Decisions</h2><table><tr><th>step</th><th>status</th><th>at</th><th>given</th><th>spent</th><th>units</th>
<th>CV (DeLong 95% CI)</th><th>why</th></tr>{''.join(rows)}</table>
<h2>Timeline</h2><img alt="timeline" src="data:image/png;base64,{image}">
<p>Every run, blend and submission: <a href="report.html">report.html</a>; every command's output: play.log.</p>
</body></html>"""
    path = play.folder / "play.html"
    atomic_write_text(path, page)
    return path
