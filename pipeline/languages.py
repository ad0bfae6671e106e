"""Supported language codes and their English names (used in prompts and help)."""

from __future__ import annotations

from .errors import ConfigError

__all__ = ["LANGUAGES", "language_name", "parse_languages", "parse_source"]

LANGUAGES: dict[str, str] = {
    "en": "English",
    "de": "German",
    "es": "Spanish",
    "fr": "French",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "pl": "Polish",
    "ru": "Russian",
    "uk": "Ukrainian",
    "tr": "Turkish",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
}


def language_name(code: str) -> str:
    try:
        return LANGUAGES[code]
    except KeyError:
        known = ", ".join(sorted(LANGUAGES))
        raise ConfigError(f"unsupported language {code!r}; supported: {known}") from None


def parse_languages(spec: str) -> tuple[str, ...]:
    """'de,es' -> ('de', 'es'), each checked; duplicates removed, order kept."""
    codes = [c.strip().lower() for c in spec.split(",") if c.strip()]
    if not codes:
        raise ConfigError("no target language given (e.g. --to de or --to de,es)")
    for code in codes:
        language_name(code)
    return tuple(dict.fromkeys(codes))


def parse_source(spec: str | None) -> tuple[str | None, tuple[str, ...]]:
    """A source language spec → (language, candidates).

    'de' → ('de', ()); 'auto' or None → (None, ()): detect among every supported
    language; 'auto:en,de' → (None, ('en', 'de')): detect among these only.
    """
    if spec is None:
        return None, ()
    spec = spec.strip().lower()
    if spec == "auto":
        return None, ()
    if spec.startswith("auto:"):
        codes = tuple(dict.fromkeys(c.strip() for c in spec[5:].split(",") if c.strip()))
        if not codes:
            raise ConfigError("auto: needs candidate languages after the colon, e.g. auto:en,de")
        for code in codes:
            language_name(code)
        return None, codes
    language_name(spec)
    return spec, ()
