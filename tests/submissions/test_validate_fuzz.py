"""Fuzz ``submissions.validate`` with malformed CSV files: it accepts a valid file or raises its own
``SubmissionError`` naming the file, never anything else (seeded, bounded size and count)."""
import numpy as np
import pandas as pd
import pytest

from common.cli import run_cli
from common.registry import get_competition
from submissions.validate import BOM, SubmissionError, main, validate_file
from tests.submissions.synthetic import submission_ids, write_sample

N_CASES = 150  # per competition
N_IDS = 40


def _good_text(spec, ids, rng) -> str:
    scores = rng.uniform(0, 1, len(ids))
    rows = [f"{spec.id_column},{spec.target_column}"] + [f"{i},{s:.6f}" for i, s in zip(ids, scores)]
    return "\n".join(rows) + "\n"


def _mutations(spec, ids):
    """Each mutation: (name, function(text, rng) -> bytes)."""
    header = f"{spec.id_column},{spec.target_column}"

    def lines(text):
        rows = text.rstrip("\n").split("\n")
        return rows if len(rows) > 1 else rows + [f"{ids[0]},0.5"]  # a data row to mutate

    def pick(rows, rng):
        return int(rng.integers(1, len(rows)))

    def join(rows):
        return ("\n".join(rows) + "\n").encode()

    def truncate(text, rng):
        data = text.encode()
        return data[: int(rng.integers(0, len(data) + 1))]

    def extra_column(text, rng):
        return join([r + (",extra" if k == 0 else f",{rng.uniform():.3f}") for k, r in enumerate(lines(text))])

    def missing_column(text, rng):
        return join([r.split(",")[int(rng.integers(0, 2))] for r in lines(text)])

    def ragged(text, rng):
        rows = lines(text)
        k = pick(rows, rng)
        rows[k] = rows[k] + ",1,2,3"
        return join(rows)

    def duplicated_id(text, rng):
        rows = lines(text)
        rows.append(rows[pick(rows, rng)])
        return join(rows)

    def missing_id(text, rng):
        rows = lines(text)
        del rows[pick(rows, rng)]
        return join(rows)

    def extra_id(text, rng):
        return join(lines(text) + [f"NOT_AN_ID_{int(rng.integers(1000))},0.5"])

    def empty_id(text, rng):
        rows = lines(text)
        rows[pick(rows, rng)] = ",0.5"
        return join(rows)

    def bad_score(text, rng):
        rows = lines(text)
        value = rng.choice(["nan", "NaN", "inf", "-inf", "", "abc", "1e400", "-0.5", "1.5", "0x1", "None",
                            "'0.3'", "\"0.4\"", "1,2"])
        k = pick(rows, rng)
        rows[k] = rows[k].split(",")[0] + "," + value
        return join(rows)

    def wrong_header(text, rng):
        rows = lines(text)
        rows[0] = rng.choice([header.upper(), f"{spec.target_column},{spec.id_column}", "a,b", "",
                              header + ",", f" {spec.id_column} , {spec.target_column}", header.replace(",", ";")])
        return join(rows)

    def no_header(text, rng):
        return join(lines(text)[1:])

    def empty(text, rng):
        return rng.choice([b"", b"\n", b"   \n\n", header.encode()])

    def junk(text, rng):
        return rng.integers(0, 256, int(rng.integers(1, 400)), dtype=np.uint8).tobytes()

    def junk_inside(text, rng):
        data = bytearray(text.encode())
        for _ in range(int(rng.integers(1, 8)) if data else 0):
            data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
        return bytes(data)

    def bom(text, rng):
        return BOM + text.encode()

    def crlf(text, rng):
        return text.replace("\n", "\r\n").encode()

    def quotes(text, rng):
        rows = lines(text)
        k = pick(rows, rng)
        rows[k] = '"' + rows[k]
        return join(rows)

    def semicolons(text, rng):
        return text.replace(",", ";").encode()

    def latin1(text, rng):
        return text.encode() + "é,0.5\n".encode("latin-1")

    return [truncate, extra_column, missing_column, ragged, duplicated_id, missing_id, extra_id, empty_id,
            bad_score, wrong_header, no_header, empty, junk, junk_inside, bom, crlf, quotes, semicolons, latin1]


@pytest.mark.slow
@pytest.mark.parametrize("competition", ["nexperia", "home_credit"])
def test_validate_never_crashes_on_malformed_files(competition, tmp_path, capsys):
    spec = get_competition(competition)
    data = tmp_path / "data"
    ids = submission_ids(competition, N_IDS)
    write_sample(data, competition, ids)
    rng = np.random.default_rng(20261126)
    mutations = _mutations(spec, ids)
    seen = {"accepted": 0, "refused": 0}
    for case in range(N_CASES):
        text = _good_text(spec, ids, rng)
        chosen = [mutations[int(k)] for k in rng.choice(len(mutations), int(rng.integers(1, 3)), replace=False)]
        data_bytes = text.encode()
        for mutate in chosen:
            data_bytes = mutate(data_bytes.decode("utf-8", errors="replace"), rng)
        path = tmp_path / f"case{case}.csv"
        path.write_bytes(data_bytes[:20_000])
        what = f"case {case} ({[m.__name__ for m in chosen]})"
        try:
            sub = validate_file(path, competition, data)
        except SubmissionError as error:
            seen["refused"] += 1
            message = str(error)
            assert str(path) in message, f"{what}: the error does not name the file: {message}"
        except Exception as error:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{what}: {type(error).__name__} escaped validate_file: {error}")
        else:
            seen["accepted"] += 1
            assert sorted(sub[spec.id_column].astype(str)) == sorted(map(str, ids)), what
            scores = pd.to_numeric(sub[spec.target_column]).to_numpy(dtype=float)
            assert np.isfinite(scores).all() and (scores >= 0).all() and (scores <= 1).all(), what
        # the command line answers one line (or one problem per line), exit 2, never a traceback
        try:
            status = run_cli(main, [str(path), "--competition", competition, "--data", str(data)])
        except SystemExit as exit_info:
            status = exit_info.code
        assert status in (0, 2), what
        err = capsys.readouterr().err
        assert "Traceback" not in err and (status == 0 or err.startswith(f"error: {path}")), what
    assert seen["accepted"] > 0 and seen["refused"] > N_CASES // 2, seen


@pytest.mark.parametrize("mutation", ["bad_score", "duplicated_id", "missing_id", "extra_id", "wrong_header"])
def test_refusals_name_the_column_or_ids(mutation, tmp_path):
    spec = get_competition("nexperia")
    data = tmp_path / "data"
    ids = submission_ids("nexperia", N_IDS)
    write_sample(data, "nexperia", ids)
    rng = np.random.default_rng(1)
    mutate = {m.__name__: m for m in _mutations(spec, ids)}[mutation]
    path = tmp_path / "sub.csv"
    path.write_bytes(mutate(_good_text(spec, ids, rng), rng))
    with pytest.raises(SubmissionError) as error:
        validate_file(path, "nexperia", data)
    message = str(error.value)
    assert str(path) in message
    assert spec.target_column in message or spec.id_column in message or "id(s)" in message
