"""The ledger's plots: score axes fitted to the scores shown."""
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from submissions import score_plots


def test_score_axes_fit_the_scores():
    assert score_plots.fitted_limits([0.90, 0.95]) == pytest.approx((0.895, 0.955))
    low, high = score_plots.fitted_limits([0.93])  # one submission: a narrow band around it, not [0, 1]
    assert low < 0.93 < high and high - low < 0.01


def _table(n: int) -> pd.DataFrame:
    """``n`` submissions Kaggle scored, and a dry run (CV only, never sent) that is no submission."""
    sent = pd.DataFrame({"id": range(1, n + 1), "created": [f"2026-12-0{1 + i % 3}T10:00:00Z" for i in range(n)],
                         "submitted": None, "kaggle_ref": range(100, 100 + n),
                         "cv_auc": [0.93 + 0.001 * i for i in range(n)],
                         "public_score": [0.92 + 0.002 * i for i in range(n)], "private_score": None})
    dry_run = {"id": n + 1, "created": "2026-12-04T10:00:00Z", "submitted": None, "kaggle_ref": None,
               "cv_auc": 0.5, "public_score": None, "private_score": None}
    return pd.concat([sent, pd.DataFrame([dry_run])], ignore_index=True)


@pytest.mark.parametrize("n", [1, 4])
def test_scores_by_order_span_the_submissions_not_years(tmp_path, monkeypatch, n):
    axes = []
    monkeypatch.setattr(score_plots, "_save", lambda fig, path: axes.append(fig.axes[0]) or plt.close(fig))
    score_plots.plot_scores_by_order(_table(n), tmp_path / "s.png", "t")
    score_plots.plot_cv_vs_public(_table(n), tmp_path / "c.png", "t")
    by_order, scatter = axes
    assert by_order.get_xlim() == (0.5, n + 0.5)
    low, high = by_order.get_ylim()
    assert 0.9 < low < 0.92 and 0.93 < high < 0.94
    assert ("Pearson" in scatter.get_title()) == (n >= 3)


def test_order_ticks_name_the_day_where_it_changes():
    assert score_plots.order_ticks(["2026-12-01", "2026-12-01", "2026-12-02"]) == [
        "1\n2026-12-01", "2", "3\n2026-12-02"]
