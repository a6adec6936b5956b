"""The filter for objectionable words in what other people read: usernames, display names, bios,
post captions and comments.

Text is compared in a normalised form (`fold`, then `leet`): case-folded, accents and invisible
characters dropped, letters that look alike mapped to one (Cyrillic "а" and Latin "a", fullwidth
and mathematical letters by NFKD), and the digits and symbols used for letters mapped to them
(0 o, 3 e, 4 a, 5 s, 7 t, @ a, $ s; 1, ! and | stand for either i or l). An entry of the list
(drape/data/blocked_words.txt, its format described there) matches whole words only, each of
its letters repeated any number of times ("fuuuck"), so that "Scunthorpe" and "classic" pass.
Words spelt with separators between single letters ("f.u.c.k", "f u c k") are joined first.

The same text is read several ways (symbols as letters or as separators, digits at the ends of
a word kept or dropped, separators inside a word kept or dropped); a match in any refuses it.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

from drape.settings import Settings

DEFAULT_LIST = Path(__file__).resolve().parent / "data" / "blocked_words.txt"

# Letters of other scripts drawn like Latin ones (lower case: the text is case-folded first).
HOMOGLYPHS = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "п": "n", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ш": "w", "ь": "b", "ѕ": "s", "і": "i", "ј": "j",
    "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ү": "y",
    # Greek
    "α": "a", "β": "b", "γ": "y", "ε": "e", "ζ": "z", "η": "n", "ι": "i", "κ": "k", "μ": "u",
    "ν": "v", "ο": "o", "ρ": "p", "σ": "o", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
    # Latin letters NFKD leaves alone
    "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ŧ": "t", "ɑ": "a", "ɡ": "g", "ß": "ss",
    "æ": "ae", "œ": "oe", "þ": "p",
}  # fmt: skip

# Characters written for letters. AMBIGUOUS stands for i and l at once (the list's "i" and "l"
# both accept it).
AMBIGUOUS = "1"
DIGITS_AS_LETTERS = {"0": "o", "1": AMBIGUOUS, "3": "e", "4": "a", "5": "s", "7": "t"}
SYMBOLS_AS_LETTERS = {"@": "a", "$": "s", "!": AMBIGUOUS, "|": AMBIGUOUS}
SUFFIXES = ("s", "es", "er", "ers", "ing", "in", "ed", "y")


def fold(text: str) -> str:
    """Case-folded, accents and invisible characters (zero-width spaces, soft hyphens) dropped,
    look-alike letters of other scripts mapped to Latin ones."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = (
        c for c in decomposed if not unicodedata.combining(c) and unicodedata.category(c) != "Cf"
    )
    return "".join(HOMOGLYPHS.get(c, c) for c in kept)


def leet(token: str, *, symbols: bool = True) -> str:
    """Digits (and, with `symbols`, @ $ ! |) written for letters, as those letters."""
    table = {**DIGITS_AS_LETTERS, **(SYMBOLS_AS_LETTERS if symbols else {})}
    return "".join(table.get(c, c) for c in token)


def normalize(text: str) -> str:
    """The form the list is compared with, read once: words (runs of letters, digits and the
    symbols used as letters) with their characters mapped, separated by single spaces."""
    return " ".join(leet(w) for w in _split(fold(text), symbols=True))


def _is_wordish(c: str) -> bool:
    return c.isalnum() or c in SYMBOLS_AS_LETTERS


def _split(folded: str, *, symbols: bool) -> list[str]:
    """Runs of word characters; with `symbols`, the symbols used as letters belong to words."""
    words, current = [], []
    for c in folded:
        if c.isalnum() or (symbols and c in SYMBOLS_AS_LETTERS):
            current.append(c)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def _join_single_letters(words: list[str]) -> list[str]:
    """ "f u c k" -> "fuck": runs of two or more one-character words become one word."""
    out: list[str] = []
    run: list[str] = []
    for w in [*words, ""]:
        if len(w) == 1:
            run.append(w)
            continue
        if len(run) > 1:
            out.append("".join(run))
        else:
            out.extend(run)
        run = []
        if w:
            out.append(w)
    return out


def readings(text: str) -> Iterator[str]:
    """Each way the text is read: space-separated normalised words."""
    folded = fold(text)
    for symbols in (True, False):
        words = _split(folded, symbols=symbols)
        yield " ".join(leet(w, symbols=symbols) for w in words)
        yield " ".join(leet(w, symbols=symbols) for w in _join_single_letters(words))
        # "bitch99": digits at the ends of a word are often only decoration.
        trimmed = [t for w in words if (t := w.strip("0123456789"))]
        yield " ".join(leet(w, symbols=symbols) for w in trimmed)
    # "f.u.c.k", "sh_it": separators inside a chunk of text without spaces dropped.
    chunks = ("".join(c for c in chunk if _is_wordish(c)) for chunk in folded.split())
    yield " ".join(leet(c) for c in chunks if c)


def _letters(word: str) -> str:
    """A pattern for a word of the list: each run of one letter at least as long, as long as
    it likes ("ass" is a+ s{2,}: "aasss" but not "as"); i and l also accept AMBIGUOUS."""
    parts = []
    for m in re.finditer(r"(.)\1*", word):
        c, n = m.group(1), len(m.group(0))
        cls = f"[{c}{AMBIGUOUS}]" if c in "il" else re.escape(c)
        parts.append(f"{cls}{{{n},}}")
    return "".join(parts)


def _entry_pattern(entry: str) -> str | None:
    entry = entry.strip()
    inside = len(entry) > 2 and entry.startswith("*") and entry.endswith("*")
    ending = not inside and entry.endswith("*")
    words = [leet(w, symbols=False) for w in _split(fold(entry.strip("*")), symbols=False)]
    if not words:
        return None
    core = " ".join(_letters(w) for w in words)
    if inside:
        return rf"[^ ]*{core}[^ ]*"
    if ending:
        return core + "(?:" + "|".join(_letters(s) for s in SUFFIXES) + ")?"
    return core


class WordFilter:
    """Refuses text that holds one of `entries` (the format of drape/data/blocked_words.txt)."""

    def __init__(self, entries: Iterable[str]) -> None:
        patterns = sorted({p for e in entries if (p := _entry_pattern(e))}, key=len, reverse=True)
        self.size = len(patterns)
        alternatives = "|".join(patterns) or r"(?!)"
        self._pattern = re.compile(rf"(?<![^ ])(?:{alternatives})(?![^ ])")

    @classmethod
    def from_files(cls, *paths: Path | str) -> WordFilter:
        entries: list[str] = []
        for path in paths:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise ValueError(f"cannot read the blocked words file {path}: {e}") from None
            entries += (line.split("#", 1)[0] for line in text.splitlines())
        return cls(entries)

    def match(self, text: str) -> str | None:
        """The normalised words of `text` that an entry matches, or None."""
        for reading in readings(text):
            if found := self._pattern.search(reading):
                return found.group(0)
        return None

    def refuses(self, text: str) -> bool:
        return self.match(text) is not None


@functools.lru_cache(maxsize=4)
def load(extra_file: str = "") -> WordFilter:
    """The shipped list plus the words of `extra_file` (read once per process)."""
    return WordFilter.from_files(DEFAULT_LIST, *([extra_file] if extra_file else []))


def for_settings(settings: Settings) -> WordFilter:
    return load(settings.blocked_words_file)
