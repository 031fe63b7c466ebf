"""bench/play.py's verdicts: the issue's checks at one budget and the page that reports them."""
import pytest

from bench.play import AG_MATRIX, AG_RAW, AUTOPILOT, Row, checks, main, markdown

DEVICE = {"cpu": "Test CPU", "cores": 2, "usable_cores": 2}


def home_credit_rows(pilot_wall=880.0, pilot=0.80, raw=0.75, matrix=0.80, singles=(0.79, 0.80)):
    rows = [Row(AUTOPILOT, 15.0, wall_s=pilot_wall, test_auc=pilot), Row(AG_RAW, 15.0, wall_s=1000, test_auc=raw),
            Row(AG_MATRIX, 15.0, wall_s=990, test_auc=matrix)]
    return rows + [Row(f"single {i}", 15.0, wall_s=60, test_auc=auc, p_vs_autopilot=0.5, any_budget=True)
                   for i, auc in enumerate(singles)]


def test_every_check_passes_when_the_autopilot_ties_or_beats_each_system_within_the_wall_bound():
    assert [verdict for _, verdict in checks("home_credit", 15.0, home_credit_rows())] == ["PASS"] * 4


def test_a_play_past_budget_times_slack_a_raw_tie_and_a_better_single_fail():
    verdicts = dict(checks("home_credit", 15.0, home_credit_rows(pilot_wall=946.0, raw=0.80, singles=(0.81,))))
    assert list(verdicts.values()) == ["FAIL", "PASS", "FAIL", "FAIL"]  # 946 s > 900 x 1.05; raw must be beaten


def test_a_system_without_a_figure_is_not_judged():
    rows = home_credit_rows()
    rows[2].test_auc = None  # AutoGluon on the matrix failed
    assert dict(checks("home_credit", 15.0, rows))["autopilot test AUC >= AutoGluon on the kit's matrix"] == "n/a"


def test_nexperia_compares_with_the_default_cnn_only():
    rows = [Row(AUTOPILOT, 20.0, wall_s=1200, test_auc=0.97), Row("CNN default", 20.0, test_auc=0.98)]
    assert [v for _, v in checks("nexperia", 20.0, rows)] == ["PASS", "FAIL"]


def test_the_page_lists_the_device_every_row_and_every_check():
    page = markdown("home_credit", DEVICE, [15.0], home_credit_rows())
    assert "Test CPU, 2 cores" in page
    assert page.count("| 15 min |") == 3 and page.count("| single ") == 2
    assert "| 0.5 (vs 15 min) |" in page  # a single run's p: against the autopilot of the budget it is listed under
    assert page.count("**PASS**") == 4


@pytest.mark.parametrize("argv, words", [(["--competition", "nowhere"], "unknown competition"),
                                         (["--budgets", "0"], "--budgets")])
def test_bad_input_is_one_line_before_any_work(argv, words, capsys):
    from common.cli import run_cli
    with pytest.raises(SystemExit) as ended:
        run_cli(main, argv)
    assert ended.value.code == 2
    assert words in capsys.readouterr().err.strip().splitlines()[-1]
