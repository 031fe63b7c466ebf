"""docs/options.md is generated from the option dataclasses and must match the code."""
from common import options_doc


def test_docs_options_md_is_up_to_date():
    assert options_doc.DOC.read_text() == options_doc.render(), \
        "docs/options.md is stale: run python -m common.options_doc"


def test_every_dataclass_command_line_is_documented_with_its_defaults():
    commands = dict(options_doc.commands())
    assert {"python competitions/nexperia/train.py", "python competitions/home_credit/train.py",
            "python competitions/nexperia/tune.py --family cnn", "python competitions/home_credit/tune.py",
            "python -m competitions.home_credit.features.build"} <= set(commands)
    text = options_doc.render()
    assert "| `--pretrained` | none |" in text and "| `--lr` | 0.001 | > 0 |" in text
    assert "| `--seed` | 42 | >= 0 and <= 2147483647 |" in text


def test_check_says_when_the_page_is_stale(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "options.md"
    stale.write_text("# old\n")
    monkeypatch.setattr(options_doc, "DOC", stale)
    assert options_doc.main(["--check"]) == 1
    assert "is stale: run python -m common.options_doc" in capsys.readouterr().err
    assert options_doc.main([]) == 0 and options_doc.main(["--check"]) == 0
