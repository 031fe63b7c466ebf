import numpy as np
import pandas as pd
import pytest

from common.cli import run_cli
from common.registry import get_competition
from submissions.validate import SubmissionError, main, validate_file
from tests.submissions.synthetic import submission_ids, write_sample


def _write(path, df):
    df.to_csv(path, index=False)
    return path


@pytest.fixture(params=["nexperia", "home_credit"])
def case(request, tmp_path):
    competition = request.param
    spec = get_competition(competition)
    data = tmp_path / "data"
    write_sample(data, competition)
    ids = submission_ids(competition)
    good = pd.DataFrame({spec.id_column: pd.Series(ids, dtype=object),
                         spec.target_column: np.linspace(0, 1, len(ids))})
    return competition, spec, data, good


def test_valid_file_passes_in_any_row_order(case, tmp_path, capsys):
    competition, spec, data, good = case
    path = _write(tmp_path / "sub.csv", good.sample(frac=1.0, random_state=0))
    assert len(validate_file(path, competition, data)) == len(good)
    assert main([str(path), "--competition", competition, "--data", str(data)]) == 0
    assert "OK" in capsys.readouterr().out


def _wrong_id(df, spec):
    df.loc[3, spec.id_column] = "not-an-id"
    return df, ["1 id(s) not in the sample submission: 'not-an-id'", "missing"]


def _nan(df, spec):
    df.loc[5, spec.target_column] = np.nan
    return df, ["NaN or inf", repr(str(df.loc[5, spec.id_column]))]


def _inf(df, spec):
    df.loc[6, spec.target_column] = np.inf
    return df, ["NaN or inf", repr(str(df.loc[6, spec.id_column]))]


def _duplicate(df, spec):
    df.loc[7, spec.id_column] = df.loc[8, spec.id_column]
    return df, ["1 duplicated id(s)", repr(str(df.loc[8, spec.id_column]))]


def _dropped_row(df, spec):
    return df.drop(index=0), [f"{len(df) - 1} rows, the sample submission has {len(df)}"]


def _column_order(df, spec):
    return df[[spec.target_column, spec.id_column]], ["expected exactly"]


def _out_of_range(df, spec):
    df.loc[2, spec.target_column] = 1.5
    return df, ["outside [0.0, 1.0]", repr(str(df.loc[2, spec.id_column]))]


def _text_score(df, spec):
    df[spec.target_column] = df[spec.target_column].astype(object)
    df.loc[4, spec.target_column] = "high"
    return df, ["not numbers", repr(str(df.loc[4, spec.id_column]))]


@pytest.mark.parametrize("mutate", [_wrong_id, _nan, _inf, _duplicate, _dropped_row, _column_order,
                                    _out_of_range, _text_score])
def test_bad_file_is_refused_with_what_is_wrong(case, tmp_path, capsys, mutate):
    competition, spec, data, good = case
    bad, expected = mutate(good.copy(), spec)
    path = _write(tmp_path / "bad.csv", bad)
    with pytest.raises(SubmissionError) as error:
        validate_file(path, competition, data)
    for text in expected:
        assert text in str(error.value)
    assert str(path) in str(error.value)
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, [str(path), "--competition", competition, "--data", str(data)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith(f"error: {path} is not a valid {competition} submission:")


def test_missing_sample_submission_names_the_file(tmp_path):
    path = _write(tmp_path / "sub.csv", pd.DataFrame({"id": ["a"], "defect_score": [0.5]}))
    with pytest.raises(FileNotFoundError, match="submission_sample.csv"):
        validate_file(path, "nexperia", tmp_path / "nowhere")


def test_a_bom_is_read_but_draws_one_warning_naming_the_file(case, tmp_path, capsys, caplog):
    from submissions.validate import BOM

    competition, spec, data, good = case
    path = tmp_path / "bom.csv"
    path.write_bytes(BOM + good.to_csv(index=False).encode())
    with caplog.at_level("WARNING", logger="submissions.validate"):
        sub = validate_file(path, competition, data)
    assert list(sub.columns) == [spec.id_column, spec.target_column]  # the BOM is not in the header
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and str(path) in warnings[0] and "byte order mark" in warnings[0]
    assert "\n" not in warnings[0]
    caplog.clear()
    clean = _write(tmp_path / "clean.csv", good)
    with caplog.at_level("WARNING", logger="submissions.validate"):
        validate_file(clean, competition, data)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
