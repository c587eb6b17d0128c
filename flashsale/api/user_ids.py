"""One person, one userId: how an id sent by a client becomes the id that is counted.

The rule (docs/identity.md, "User ids: one person, one id"):

1. The id is normalised with Unicode NFKC first, and only the normalised id is
   checked, counted (rate limits, the allocator's one-per-person), looked up
   and sent back (bodies, the Location header). So fullwidth alice (U+FF41 U+FF4C...)
   is ``alice``, and ``café`` composed (U+00E9) or decomposed (e + U+0301) is one id.
2. The normalised id has 1 to 64 characters, all printable (str.isprintable:
   no control, format, unassigned, private-use or surrogate code points, no
   separator but the ASCII space), has no ``/`` or ``\\``, no surrounding
   spaces, and is not ``.`` or ``..``.
3. Nothing invisible, anywhere: no Default_Ignorable_Code_Point (zero-width
   characters U+200B..U+200D, U+2060, U+FEFF, the soft hyphen U+00AD, bidi
   controls, Hangul fillers U+115F U+1160 U+3164 U+FFA0, variation selectors,
   tags...), nor the blank-looking symbols U+2800 BRAILLE PATTERN BLANK and
   U+1D159 MUSICAL SYMBOL NULL NOTEHEAD. An id of only spaces and combining
   marks (a lone U+0301) is refused too: it shows nothing.
4. Its letters are of one script, or of a combination UTS #39's "highly
   restrictive" level allows: Latin + Han + Hiragana + Katakana, Latin + Han +
   Bopomofo, Latin + Han + Hangul. Digits, punctuation, symbols and marks are
   common to every script. So alice with a Cyrillic a (U+0430) is refused;
   ``иван``, ``山田太郎`` and ``tanaka太郎`` are not.
5. Case is kept: ``Alice`` and ``alice`` are two ids. The shop issues the ids,
   so whether they differ by case is the shop's business.

Everything refused raises InvalidInput (400). Unassigned code points being
refused (rule 2) keeps the rule stable: Unicode never changes the NFKC form of
an assigned character, so a Python with a newer Unicode normalises every id
accepted today the same way.

The script of a letter is the leading word of its Unicode name (``CYRILLIC
SMALL LETTER A``), with the small table below for the names that do not start
with their script; the standard library has no Script property. Checked
against Unicode 14's Script_Extensions (Python 3.11's Unicode) over all 128,501
letters NFKC leaves as they are: no two names here stand for one Unicode script
(so no single-script id is refused), and each letter's script is among its
Script_Extensions, but for four Latin modifier letters counted common and one
Nandinagari Vedic sign counted Devanagari.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from flashsale.config import USER_ID_MAX_CHARS
from flashsale.errors import InvalidUserId

TITLE = "Invalid userId"


def _ranges(text: str) -> tuple[tuple[int, int], ...]:
    """Inclusive ranges of code points written as Unicode's data files write them:
    `115F..1160`, or `00AD` for one."""
    ranges = []
    for item in text.split():
        low, _, high = item.partition("..")
        ranges.append((int(low, 16), int(high or low, 16)))
    return tuple(ranges)


# Unicode 14.0 DerivedCoreProperties.txt, Default_Ignorable_Code_Point. unicodedata
# does not expose the property.
DEFAULT_IGNORABLE = _ranges(
    "00AD 034F 061C 115F..1160 17B4..17B5 180B..180F 200B..200F 202A..202E 2060..206F 3164"
    " FE00..FE0F FEFF FFA0 FFF0..FFF8 1BCA0..1BCA3 1D173..1D17A E0000..E0FFF"
)
# Printed as blank but not default-ignorable (nor changed by NFKC).
BLANK_SYMBOLS = frozenset({0x2800, 0x1D159})  # BRAILLE PATTERN BLANK, MUSICAL SYMBOL NULL NOTEHEAD
# Characters that show nothing on their own: an id of only these is refused.
SHOWS_NOTHING = frozenset({"Mn", "Me", "Zs"})

LATIN, HAN, HIRAGANA, KATAKANA = "LATIN", "HAN", "HIRAGANA", "KATAKANA"
BOPOMOFO, HANGUL = "BOPOMOFO", "HANGUL"
# UTS #39 section 5.2, "Highly Restrictive": the mixes allowed beyond one script.
ALLOWED_MIXES = (
    frozenset({LATIN, HAN, HIRAGANA, KATAKANA}),
    frozenset({LATIN, HAN, BOPOMOFO}),
    frozenset({LATIN, HAN, HANGUL}),
)
COMMON: frozenset[str] = frozenset()
# Leading words of letter names that are not the letter's script (Unicode 14),
# mapped to its Script_Extensions; an empty set is common to every script.
NAME_SCRIPTS: dict[str, frozenset[str]] = {
    "CJK": frozenset({HAN}),  # CJK UNIFIED IDEOGRAPH-4E00
    "IDEOGRAPHIC": frozenset({HAN}),  # IDEOGRAPHIC ITERATION MARK 々
    "HANGZHOU": frozenset({HAN}),  # HANGZHOU NUMERAL ONE
    "OLD CHINESE": frozenset({HAN}),  # OLD CHINESE ITERATION MARK
    "VERTICAL IDEOGRAPHIC": frozenset({HAN}),
    "HENTAIGANA": frozenset({HIRAGANA}),
    "KATAKANA-HIRAGANA": frozenset({HIRAGANA, KATAKANA}),  # PROLONGED SOUND MARK ー
    "VERTICAL KANA": frozenset({HIRAGANA, KATAKANA}),
    "MASU": frozenset({HAN, HIRAGANA, KATAKANA}),
    "ROMAN": frozenset({LATIN}),  # ROMAN NUMERAL REVERSED ONE HUNDRED
    "TURNED": frozenset({LATIN}),  # TURNED CAPITAL F
    "VEDIC": frozenset({"DEVANAGARI"}),
    "MODIFIER": COMMON,  # MODIFIER LETTER APOSTROPHE
    "CARON": COMMON,
    "VERTICAL TILDE": COMMON,
}
# Scripts whose names share their first word (OLD ITALIC, OLD PERSIAN...): two words.
TWO_WORD_PREFIXES = frozenset({"OLD", "TAI", "LINEAR", "INSCRIPTIONAL", "MEROITIC", "VERTICAL"})
# The one range of letters unicodedata gives no name in Unicode 14.
TANGUT_IDEOGRAPHS = ((0x17000, 0x187F7), (0x18D00, 0x18D08))


def normalise_user_id(value: object) -> str:
    """The id to count for `value`, NFKC-normalised; InvalidInput if it is refused."""
    if not isinstance(value, str):
        raise InvalidUserId(TITLE, "userId must be a string")
    ascii_only = value.isascii()  # most ids: NFKC leaves them as they are, all Latin
    if not ascii_only:
        # On what the client sent, to name what it sent: NFKC maps no character
        # to or from these (checked over every code point, Unicode 14).
        _refuse_invisible(value)
        value = unicodedata.normalize("NFKC", value)
    if not value:
        raise InvalidUserId(TITLE, "userId must not be empty")
    if len(value) > USER_ID_MAX_CHARS:
        raise InvalidUserId(
            TITLE, f"userId must be at most {USER_ID_MAX_CHARS} characters (after NFKC)"
        )
    if not value.isprintable() or "/" in value or "\\" in value:
        raise InvalidUserId(TITLE, "userId may hold printable characters only, without / or \\")
    if not ascii_only and all(unicodedata.category(c) in SHOWS_NOTHING for c in value):
        raise InvalidUserId(TITLE, "userId must show something, not only spaces or combining marks")
    if value != value.strip() or value in {".", ".."}:
        raise InvalidUserId(TITLE, "userId must not be blank, padded, '.' or '..'")
    if not ascii_only:
        _refuse_mixed_scripts(value)
    return value


def _refuse_invisible(value: str) -> None:
    for char in value:
        code = ord(char)
        if code in BLANK_SYMBOLS or any(low <= code <= high for low, high in DEFAULT_IGNORABLE):
            shown = f"U+{code:04X} {unicodedata.name(char, '(unassigned)')}"
            raise InvalidUserId(TITLE, f"userId must not hold invisible characters; it has {shown}")


@lru_cache(maxsize=4096)
def script_of(char: str) -> frozenset[str]:
    """The scripts a character belongs to; empty for digits, punctuation, marks...

    Only letters (and letter-like numerals, Nl) carry a script here."""
    category = unicodedata.category(char)
    if not (category.startswith("L") or category == "Nl"):
        return COMMON
    code = ord(char)
    if any(low <= code <= high for low, high in TANGUT_IDEOGRAPHS):
        return frozenset({"TANGUT"})
    words = unicodedata.name(char, f"U+{code:04X}").split(" ")
    key = " ".join(words[:2]) if words[0] in TWO_WORD_PREFIXES else words[0]
    return NAME_SCRIPTS.get(key, frozenset({key}))


def _refuse_mixed_scripts(user_id: str) -> None:
    """UTS #39 "highly restrictive": one script, or covered by an allowed mix."""
    scripts = [found for found in map(script_of, user_id) if found]
    if not scripts or frozenset.intersection(*scripts):
        return
    for mix in ALLOWED_MIXES:
        if all(found & mix for found in scripts):
            return
    named = ", ".join(sorted({min(found).title() for found in scripts}))
    raise InvalidUserId(
        TITLE,
        f"userId mixes letters of different scripts ({named}), "
        "as look-alike ids do: write it in one script (or Latin with Han and kana, "
        "Bopomofo or Hangul)",
    )
