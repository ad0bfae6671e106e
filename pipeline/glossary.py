"""An interpreter's glossary: terms and their agreed translations (pure core).

One format, three ways in:

- a CSV or TSV file whose header names languages (`en,de,es`) and optionally a
  `note` column; one term per row; an empty cell means "keep the source term as
  it is" (names); lines starting with `#` are comments;
- inline entries (TOML `terms = [{en = "...", de = "..."}]`, or the websocket
  `start` message's `glossary: [{"en": "...", "de": "..."}]`);
- `[glossary] file = "..."` in the TOML config.

Matching is case- and inflection-tolerant without a stemmer: words are compared
casefolded, and a word of four letters or more may carry a common ending
("pump" matches "pumps", "Wärmepumpe" matches "Wärmepumpen"; "pumpkin" is no "pump").
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import RttError
from .languages import LANGUAGES

__all__ = [
    "MAX_BYTES",
    "MAX_TERM_CHARS",
    "MAX_TERMS",
    "Glossary",
    "GlossaryError",
    "Term",
    "glossary_from_entries",
    "glossary_from_toml",
    "letters",
    "load_glossary",
    "merge",
    "parse_glossary",
    "term_count",
    "term_in",
]

MAX_TERMS = 2000  # rows; an event's glossary is a few hundred at most
MAX_BYTES = 512 * 1024  # the file
MAX_TERM_CHARS = 120  # one cell
_NOTE = "note"
# Endings a word may add to a term word (plural, case, verb forms of en/de/es/fr/it):
# "pump" -> "pumps", "Wärmepumpe" -> "Wärmepumpen", "operador" -> "operadores".
_ENDINGS = frozenset(
    {"s", "es", "e", "en", "n", "er", "ern", "ns", "ens", "ed", "d", "ing", "x", "a", "i", "o"}
)
_STEM = 4  # term words shorter than this match exactly (or with a plural "s")
_WORD = re.compile(r"\w+", re.UNICODE)


class GlossaryError(RttError):
    """A glossary that cannot be read: the message names the file (or entry) and line."""

    code = "bad_glossary"


@dataclass(frozen=True, slots=True)
class Term:
    """One row: its non-empty cells per language, and a note for the interpreter."""

    forms: tuple[tuple[str, str], ...]  # (language, text), in header order
    note: str = ""

    def form(self, lang: str) -> str | None:
        return dict(self.forms).get(lang)

    def target(self, source_lang: str, target_lang: str) -> str | None:
        """The agreed translation; an empty cell keeps the source term. None: not a source term."""
        source = self.form(source_lang)
        if source is None:
            return None
        return self.form(target_lang) or source


@dataclass(frozen=True, slots=True)
class Glossary:
    languages: tuple[str, ...]
    terms: tuple[Term, ...]
    origin: str | None = None  # the file it was read from (reloadable), if any

    def __len__(self) -> int:
        return len(self.terms)

    def find(self, text: str, lang: str) -> list[Term]:
        """The terms whose `lang` form occurs in `text`, in glossary order."""
        words = _words(text)
        return [t for t in self.terms if (f := t.form(lang)) and _match(_words(f), words)]


def term_in(term: str, text: str) -> bool:
    """Whether `term` occurs in `text` (casefolded, short endings tolerated)."""
    return _match(_words(term), _words(text))


def term_count(term: str, text: str) -> int:
    """How often `term` occurs in `text` (same tolerance as `term_in`, no overlaps counted)."""
    want, words = _words(term), _words(text)
    n, count, i = len(want), 0, 0
    while n and i + n <= len(words):
        if all(_word_match(t, w) for t, w in zip(want, words[i : i + n], strict=True)):
            count, i = count + 1, i + n
        else:
            i += 1
    return count


def letters(text: str) -> str:
    """The text casefolded, spaces and punctuation left out: how near misses of a term
    ("Nordlec Tenergy", "Havorsen") are compared with it."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _word_match(term: str, word: str) -> bool:
    if word == term:
        return True
    if len(term) < _STEM:
        return word == term + "s"
    return word.startswith(term) and word[len(term) :] in _ENDINGS


def _match(term: Sequence[str], words: Sequence[str]) -> bool:
    n = len(term)
    if n == 0:
        return False
    return any(
        all(_word_match(t, w) for t, w in zip(term, words[i : i + n], strict=True))
        for i in range(len(words) - n + 1)
    )


# --- reading ----------------------------------------------------------------------


def load_glossary(path: str | Path) -> Glossary:
    """A glossary file (CSV, or TSV by its `.tsv` name or a tab in the header)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise GlossaryError(
                f"{path}: {size} bytes, more than the {MAX_BYTES} a glossary may have"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise GlossaryError(f"glossary file not found: {path}") from None
    except IsADirectoryError:
        raise GlossaryError(f"{path} is a folder, not a glossary file") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GlossaryError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    tab = path.suffix.lower() == ".tsv"
    return parse_glossary(text, where=str(path), tab=tab, origin=str(path))


def parse_glossary(
    text: str, *, where: str = "glossary", tab: bool = False, origin: str | None = None
) -> Glossary:
    if len(text.encode()) > MAX_BYTES:
        raise GlossaryError(f"{where}: more than the {MAX_BYTES} bytes a glossary may have")
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1)]
    lines = [(n, line) for n, line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise GlossaryError(f"{where}: empty (a header such as 'en,de' and one term per line)")
    header_no, header = lines[0]
    delimiter = "\t" if tab or "\t" in header else ","
    rows = csv.reader(io.StringIO("\n".join(line for _, line in lines)), delimiter=delimiter)
    columns = _header(next(rows), f"{where}:{header_no}")
    terms = []
    for (number, _), cells in zip(lines[1:], rows, strict=False):
        at = f"{where}:{number}"
        if len(cells) > len(columns):
            raise GlossaryError(f"{at}: {len(cells)} cells, the header has {len(columns)}")
        terms.append(_term(dict(zip(columns, cells, strict=False)), at))
        if len(terms) > MAX_TERMS:
            raise GlossaryError(f"{at}: more than {MAX_TERMS} terms")
    if not terms:
        raise GlossaryError(f"{where}: a header but no terms")
    return Glossary(tuple(c for c in columns if c != _NOTE), tuple(terms), origin)


def glossary_from_entries(
    entries: object, *, where: str = "glossary", origin: str | None = None
) -> Glossary:
    """Inline terms: a list of objects mapping language codes (and `note`) to text."""
    if not isinstance(entries, (list, tuple)):
        raise GlossaryError(f"{where} must be a list of terms such as {{en = ..., de = ...}}")
    if not entries:
        raise GlossaryError(f"{where}: no terms")
    if len(entries) > MAX_TERMS:
        raise GlossaryError(f"{where}: {len(entries)} terms, more than {MAX_TERMS}")
    terms, languages = [], {}
    for i, entry in enumerate(entries, 1):
        at = f"{where}[{i}]"
        if not isinstance(entry, Mapping):
            raise GlossaryError(f"{at} must be an object of language: term")
        keys = [str(k).strip().lower() for k in entry]
        for key in keys:
            _check_column(key, at)
        cells = {k: v for k, v in zip(keys, entry.values(), strict=True)}
        if any(not isinstance(v, str) for v in cells.values()):
            raise GlossaryError(f"{at}: every term must be a string")
        terms.append(_term(cells, at))
        languages.update(dict.fromkeys(k for k in keys if k != _NOTE))
    return Glossary(tuple(languages), tuple(terms), origin)


def glossary_from_toml(section: Mapping[str, Any], *, base: Path | None = None) -> Glossary:
    """`[glossary]`: `file = "..."` (relative to the config file) and/or inline `terms`."""
    unknown = set(section) - {"file", "terms"}
    if unknown:
        raise GlossaryError(f"unknown key(s) in [glossary]: {', '.join(sorted(unknown))}")
    parts: list[Glossary] = []
    if "file" in section:
        path = Path(str(section["file"])).expanduser()
        parts.append(load_glossary(base / path if base and not path.is_absolute() else path))
    if "terms" in section:
        parts.append(glossary_from_entries(section["terms"], where="[glossary] terms"))
    if not parts:
        raise GlossaryError('[glossary] needs file = "..." or terms = [{en = ..., de = ...}]')
    return merge(parts)


def merge(parts: Iterable[Glossary]) -> Glossary:
    parts = list(parts)
    languages = dict.fromkeys(lang for g in parts for lang in g.languages)
    terms = tuple(t for g in parts for t in g.terms)
    if len(terms) > MAX_TERMS:
        raise GlossaryError(f"{len(terms)} terms in all, more than {MAX_TERMS}")
    origin = next((g.origin for g in parts if g.origin), None)
    return Glossary(tuple(languages), terms, origin)


def _check_column(name: str, at: str) -> None:
    if name != _NOTE and name not in LANGUAGES:
        known = ", ".join(sorted(LANGUAGES))
        raise GlossaryError(f"{at}: unknown language {name!r} (columns: {known} or note)")


def _header(cells: list[str], at: str) -> list[str]:
    columns = [c.strip().lower() for c in cells]
    for name in columns:
        if not name:
            raise GlossaryError(f"{at}: an empty column name in the header")
        _check_column(name, at)
    if len(set(columns)) != len(columns):
        raise GlossaryError(f"{at}: a column named twice in the header")
    if not [c for c in columns if c != _NOTE]:
        raise GlossaryError(f"{at}: the header names no language (e.g. 'en,de')")
    return columns


def _term(cells: Mapping[str, str], at: str) -> Term:
    forms = []
    for lang, text in cells.items():
        text = " ".join(text.split())
        if len(text) > MAX_TERM_CHARS:
            raise GlossaryError(f"{at}: a term longer than {MAX_TERM_CHARS} characters")
        if lang != _NOTE and text:
            forms.append((lang, text))
    if not forms:
        raise GlossaryError(f"{at}: no term in this row")
    return Term(tuple(forms), " ".join(cells.get(_NOTE, "").split()))
