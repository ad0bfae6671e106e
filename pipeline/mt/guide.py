"""What a translation request is told beyond its text: terms, context, register (pure core).

A `PromptGuide` is rendered into the user turn, before the text, never into the
static system prompt: the cached static prefix stays byte-identical, and as the
guide is the same for every update of one sentence (its context and the terms
found so far), the KV cache keeps it too and an update reads only what changed.

- terms: the glossary entries whose source form occurs in the sentence (and only
  those), with the agreed translation; an empty target cell keeps the term as is;
- context: the last sentences of the stream with their final translations, so
  names, pronouns and the form of address stay the same across sentences;
- register: the form of address for languages that have one; asked for only when
  the text addresses someone (an English source with "you"), or always for other
  source languages.

`Guidance` holds one stream's state (glossary, recent finals per target language),
checks each translation for the terms it was asked to use, and gives a final that
broke the register (German "du" in a formal talk) a second, insisting guide.
"""

from __future__ import annotations

import dataclasses
import re
from collections import deque
from dataclasses import dataclass

from ..errors import ConfigError
from ..events import TermUse
from ..glossary import Glossary, term_in
from ..languages import language_name

__all__ = [
    "FORMAL_DE",
    "INFORMAL_DE",
    "REGISTERS",
    "Guidance",
    "PromptGuide",
    "breaks_register",
    "needs_register",
]

REGISTERS = ("formal", "informal", "auto")

# How each register is asked for, per target language (languages without one are absent).
_ADDRESS: dict[str, tuple[str, str]] = {
    "de": ("Sie", "du/ihr"),
    "es": ("usted/ustedes", "tú/vosotros"),
    "fr": ("vous", "tu"),
    "it": ("Lei", "tu/voi"),
    "pt": ("o senhor/a senhora", "tu/você"),
    "nl": ("u", "je/jij"),
    "pl": ("Pan/Pani/Państwo", "ty/wy"),
    "ru": ("вы", "ты"),
    "uk": ("ви", "ти"),
    "tr": ("siz", "sen"),
}
# The forms that break a register, where a check is reliable: German "du", "dich"... in a
# formal talk; "Sie", "Ihnen"... capitalised inside a sentence in an informal one. The
# eval's register figures (rtt/eval/terms.py) count these same forms.
INFORMAL_DE = re.compile(r"\b(?:du|dich|dir|dein\w*|euch|euer|eure\w*)\b", re.IGNORECASE)
FORMAL_DE = re.compile(r"(?<=\S)\s+(?:Sie|Ihnen|Ihre?[mnrs]?)\b")
_BREAKS = {("de", "formal"): INFORMAL_DE, ("de", "informal"): FORMAL_DE}
_YOU = re.compile(r"\b(?:you|your|yours|yourself|yourselves|y'all)\b", re.IGNORECASE)


def breaks_register(text: str, target_lang: str, register: str | None) -> bool:
    """Whether a translation uses the form of address the register rules out."""
    pattern = _BREAKS.get((target_lang, register or ""))
    return pattern is not None and pattern.search(text) is not None


def needs_register(text: str, source_lang: str) -> bool:
    """Whether the sentence addresses someone, so its translation must pick a form of address."""
    return source_lang != "en" or _YOU.search(text) is not None


@dataclass(frozen=True, slots=True)
class PromptGuide:
    source_lang: str
    target_lang: str
    terms: tuple[tuple[str, str, str], ...] = ()  # (source term, agreed translation, note)
    context: tuple[tuple[str, str], ...] = ()  # (source sentence, its final translation)
    register: str | None = None  # "formal" or "informal"
    insist: bool = False  # a final that broke the register, asked again

    def render(self) -> str:
        """The guide as lines of the user turn, before the text; "" when it holds nothing."""
        src, tgt = language_name(self.source_lang), language_name(self.target_lang)
        lines: list[str] = []
        if self.context:
            lines.append("Earlier in this talk (for consistency only, do not translate again):")
            for source, target in self.context:
                lines += [f"{src}: {source}", f"{tgt}: {target}"]
        if self.terms:
            lines.append(f"Use these {tgt} terms exactly:")
            lines += [_term_line(s, t, n) for s, t, n in self.terms]
        if self.register is not None and self.target_lang in _ADDRESS:
            formal, informal = _ADDRESS[self.target_lang]
            use, avoid = (formal, informal) if self.register == "formal" else (informal, formal)
            how = "formally" if self.register == "formal" else "informally"
            lines.append(f"Address the audience {how} ({use}), never with {avoid}.")
            if self.insist:
                lines.append(f"This sentence too: {use} only, no {avoid} in any form.")
        return "\n".join(lines)


def _term_line(source: str, target: str, note: str) -> str:
    line = f"- {source} = {target}" + (" (keep as is)" if source == target else "")
    return line + (f" [{note}]" if note else "")


class Guidance:
    """One stream's guide state: the glossary, the register, recent finals per target."""

    def __init__(
        self, glossary: Glossary | None = None, *, register: str = "formal", context: int = 1
    ) -> None:
        if register not in REGISTERS:
            raise ConfigError(f"register must be formal, informal or auto, got {register!r}")
        if context < 0:
            raise ConfigError(f"context must be 0 or more sentences, got {context}")
        self.glossary = glossary
        self.register = register
        self.context = context
        self._history: dict[str, deque[tuple[str, str]]] = {}

    def guide(self, source: str, source_lang: str, target_lang: str) -> PromptGuide | None:
        """The guide for one request; None when there is nothing to say."""
        terms = self._terms(source, source_lang, target_lang)
        history = tuple(self._history.get(target_lang, ()))
        register = None
        if self.register != "auto" and needs_register(source, source_lang):
            register = self.register
        if not (terms or history or register):
            return None
        return PromptGuide(source_lang, target_lang, terms, history, register)

    def record(self, target_lang: str, source: str, translation: str) -> None:
        """A sentence's final translation: context for the next ones into the same language."""
        if self.context and source.strip() and translation.strip():
            history = self._history.setdefault(target_lang, deque(maxlen=self.context))
            history.append((source.strip(), translation.strip()))

    def check(self, guide: PromptGuide | None, text: str) -> TermUse | None:
        """Which of the guide's terms the translation used; None when it asked for none."""
        if guide is None or not guide.terms:
            return None
        used = tuple(t for _, t, _ in guide.terms if term_in(t, text))
        missed = tuple(t for _, t, _ in guide.terms if t not in used)
        return TermUse(used=used, missed=missed)

    def repair(
        self, guide: PromptGuide | None, text: str, source_lang: str, target_lang: str
    ) -> PromptGuide | None:
        """The guide to ask again with when a final broke the stream's register (German "du" in
        a formal talk, also where the source said no "you": "Our" as "Dein"); once: an
        insisting guide is not repaired. None when the translation kept the register."""
        if (guide is not None and guide.insist) or self.register == "auto":
            return None
        if not breaks_register(text, target_lang, self.register):
            return None
        base = guide or PromptGuide(source_lang, target_lang)
        return dataclasses.replace(base, register=self.register, insist=True)

    def _terms(self, source: str, source_lang: str, target_lang: str):
        if self.glossary is None:
            return ()
        found = []
        for term in self.glossary.find(source, source_lang):
            target = term.target(source_lang, target_lang)
            if target is not None:
                found.append((term.form(source_lang) or "", target, term.note))
        return tuple(dict.fromkeys(found))
