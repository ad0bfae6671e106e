"""The glossary core: parsing (good, malformed, empty, huge) and term matching."""

from __future__ import annotations

import pytest

from pipeline.errors import RttError
from pipeline.glossary import (
    MAX_BYTES,
    MAX_TERMS,
    GlossaryError,
    glossary_from_entries,
    glossary_from_toml,
    load_glossary,
    parse_glossary,
    term_in,
)

GOOD = """# agreed with the speaker's office
en,de,es,note
heat pump,Wärmepumpe,bomba de calor,
Dashwood,,,speaker's surname: keep
"grid operator, regional",Netzbetreiber,operador de red,quoted comma
"""


def test_a_good_csv_reads_terms_notes_and_keeps_empty_cells_as_the_source(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text(GOOD)
    glossary = load_glossary(path)
    assert glossary.languages == ("en", "de", "es")
    assert len(glossary) == 3
    pump, name, grid = glossary.terms
    assert pump.target("en", "de") == "Wärmepumpe"
    assert name.target("en", "de") == "Dashwood"  # empty cell: keep the source term
    assert name.note == "speaker's surname: keep"
    assert grid.form("en") == "grid operator, regional"
    assert glossary.origin == str(path)


def test_tsv_by_name_or_by_a_tab_in_the_header(tmp_path):
    path = tmp_path / "g.tsv"
    path.write_text("EN\tDE\nheat pump\tWärmepumpe\n")
    assert load_glossary(path).terms[0].target("en", "de") == "Wärmepumpe"
    assert parse_glossary("en\tde\nA, B\tC\n").terms[0].form("en") == "A, B"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("en,de\nheat pump,Wärmepumpe\nx,y,z\n", "g.csv:3: 3 cells, the header has 2"),
        ("en,xx\na,b\n", "g.csv:1: unknown language 'xx'"),
        ("en,de\n\n# c\na,b\n,\n", "g.csv:5: no term in this row"),
        ("en,en\na,b\n", "g.csv:1: a column named twice"),
        ("note\na\n", "g.csv:1: the header names no language"),
        ("en,de\n", "a header but no terms"),
        ("\n# only a comment\n", "empty"),
        ("en,de\n" + "x" * 200 + ",y\n", "g.csv:2: a term longer than"),
    ],
)
def test_malformed_files_fail_with_the_line(tmp_path, text, message):
    path = tmp_path / "g.csv"
    path.write_text(text)
    with pytest.raises(GlossaryError, match=message.replace("(", r"\(")) as err:
        load_glossary(path)
    assert isinstance(err.value, RttError) and err.value.code == "bad_glossary"


def test_missing_binary_and_huge_files_fail_clearly(tmp_path):
    with pytest.raises(GlossaryError, match="not found"):
        load_glossary(tmp_path / "nope.csv")
    (tmp_path / "bin.csv").write_bytes(b"en,de\n\xff\xfe\n")
    with pytest.raises(GlossaryError, match="not UTF-8"):
        load_glossary(tmp_path / "bin.csv")
    (tmp_path / "big.csv").write_text("en,de\n" + "a,b\n" * (MAX_BYTES // 4 + 1))
    with pytest.raises(GlossaryError, match="bytes"):
        load_glossary(tmp_path / "big.csv")
    many = "en,de\n" + "".join(f"t{i},u{i}\n" for i in range(MAX_TERMS + 1))
    with pytest.raises(GlossaryError, match=f":{MAX_TERMS + 2}: more than {MAX_TERMS} terms"):
        parse_glossary(many, where="g")


def test_inline_entries_and_their_errors():
    glossary = glossary_from_entries([{"en": "heat pump", "DE": "Wärmepumpe"}, {"en": "Ada"}])
    assert glossary.languages == ("en", "de")
    assert glossary.terms[1].target("en", "de") == "Ada"
    for bad, message in [
        ({"en": "x"}, "must be a list"),
        ([], "no terms"),
        (["x"], r"glossary\[1\] must be an object"),
        ([{"en": "a"}, {"en": 3}], r"glossary\[2\]: every term must be a string"),
        ([{"klingon": "a"}], "unknown language 'klingon'"),
        ([{"en": " ", "de": ""}], "no term"),
    ]:
        with pytest.raises(GlossaryError, match=message):
            glossary_from_entries(bad)


def test_toml_section_file_relative_to_the_config_and_inline_terms(tmp_path):
    (tmp_path / "g.csv").write_text("en,de\nheat pump,Wärmepumpe\n")
    glossary = glossary_from_toml(
        {"file": "g.csv", "terms": [{"en": "grid", "de": "Netz"}]}, base=tmp_path
    )
    assert [t.form("de") for t in glossary.terms] == ["Wärmepumpe", "Netz"]
    with pytest.raises(GlossaryError, match="needs file"):
        glossary_from_toml({})
    with pytest.raises(GlossaryError, match="unknown key"):
        glossary_from_toml({"fil": "g.csv"})


def test_matching_tolerates_case_and_short_endings_but_not_other_words():
    assert term_in("heat pump", "Two Heat Pumps were installed.")
    assert term_in("Wärmepumpe", "die neuen Wärmepumpen laufen")
    assert term_in("Dashwood", "Mr. Dashwood's talk")
    assert term_in("API", "three APIs")
    assert not term_in("API", "rapid")
    assert not term_in("heat pump", "heat and pump")
    assert not term_in("pump", "pumpkin")  # more than a short ending
    assert not term_in("", "anything")


def test_find_returns_only_terms_of_the_sentence():
    glossary = parse_glossary(GOOD)
    found = glossary.find("The heat pumps of Dashwood's company.", "en")
    assert [t.form("en") for t in found] == ["heat pump", "Dashwood"]
    assert glossary.find("Nothing here.", "en") == []
    assert [t.form("de") for t in glossary.find("eine Wärmepumpe", "de")] == ["Wärmepumpe"]
