"""One person, one id (flashsale.api.user_ids): NFKC first, nothing invisible, one script.

Characters that look like others are written as escapes, so the test says which it is.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest

from flashsale.api.user_ids import (
    DEFAULT_IGNORABLE,
    HAN,
    HIRAGANA,
    KATAKANA,
    LATIN,
    normalise_user_id,
    script_of,
)
from flashsale.api.validation import check_user_id, parse_purchase
from flashsale.errors import InvalidInput

FULLWIDTH_ALICE = "\uff41\uff4c\uff49\uff43\uff45"
CYRILLIC_A_LICE = "\u0430lice"  # CYRILLIC SMALL LETTER A, then Latin
CAFE_COMPOSED = "caf\u00e9"
CAFE_DECOMPOSED = "cafe\u0301"


def named(*rows: tuple[str, str]) -> list[Any]:
    """Parameters from (user id, what it is) rows: each test's id says what it is."""
    return [pytest.param(user_id, id=what) for user_id, what in rows]


def code_points(text: str) -> list[str]:
    """Ids written as their code points in hex: "3164+3164" is U+3164 twice."""
    return ["".join(chr(int(point, 16)) for point in item.split("+")) for item in text.split()]


def refusal(user_id: object) -> str:
    with pytest.raises(InvalidInput) as refused:
        check_user_id(user_id)
    assert refused.value.title == "Invalid userId"
    return refused.value.description


@pytest.mark.parametrize(
    "user_id",
    named(
        ("alice", "ASCII letters"),
        ("user-42", "letters, a hyphen and digits"),
        ("Zo\u00eb", "Latin with a composed diaeresis"),
        ("\u0438\u0432\u0430\u043d", "Cyrillic"),
        ("\u5c71\u7530\u592a\u90ce", "Han"),
        ("tanaka\u592a\u90ce", "Latin + Han"),
        ("m\u00fcller@example.com", "an address with an umlaut"),
        ("a" * 64, "64 characters, the most"),
        ("x@y.z", "an address"),
        ("a b", "a space inside"),
    ),
)
def test_ordinary_ids_are_kept_as_they_are(user_id):
    assert unicodedata.is_normalized("NFKC", user_id)
    assert check_user_id(user_id) == user_id


@pytest.mark.parametrize(
    ("sent", "counted"),
    [
        (FULLWIDTH_ALICE, "alice"),
        (CAFE_DECOMPOSED, CAFE_COMPOSED),
        (CAFE_COMPOSED, CAFE_COMPOSED),
        ("Zoe\u0308", "Zo\u00eb"),
        ("\uff95\uff70\uff7b\uff9e\uff70", "\u30e6\u30fc\u30b6\u30fc"),  # halfwidth katakana
        ("\U0001d41a\U0001d425\U0001d422\U0001d41c\U0001d41e", "alice"),  # MATHEMATICAL BOLD
        ("\u2163", "IV"),  # ROMAN NUMERAL FOUR
        ("a\u00a0b", "a b"),  # NO-BREAK SPACE is a space
    ],
)
def test_ids_are_counted_in_nfkc(sent, counted):
    assert check_user_id(sent) == counted
    assert check_user_id(counted) == counted  # normalising twice changes nothing


def test_a_purchase_body_gives_the_normalised_id():
    assert parse_purchase(f'{{"userId": "{FULLWIDTH_ALICE}"}}'.encode()).user_id == "alice"
    assert parse_purchase(b'{"userId": "cafe\\u0301"}').user_id == CAFE_COMPOSED


def test_case_is_kept_the_shop_decides_what_case_means():
    assert check_user_id("Alice") == "Alice"
    assert check_user_id("\uff21lice") == "Alice"  # FULLWIDTH LATIN CAPITAL LETTER A


def test_the_length_limit_counts_the_normalised_id():
    assert check_user_id("e\u0301" * 64) == "\u00e9" * 64  # 128 sent, 64 counted
    assert "64 characters" in refusal("\u00e9" * 65)
    assert "64 characters" in refusal("\ufdfa" * 4)  # each one is 18 characters in NFKC
    assert "64 characters" in refusal("\u2474" * 22)  # PARENTHESIZED DIGIT ONE: "(1)"


@pytest.mark.parametrize(
    "user_id",
    code_points(
        "3164 115F 1160 FFA0 2800 3164+3164 2800+2800+2800 1D159 200B 200D 2060 FEFF 00AD 034F"
        " FE0F E0041 180E 2064"
    ),
)
def test_invisible_ids_are_refused(user_id):
    assert "invisible" in refusal(user_id)


@pytest.mark.parametrize("user_id", ["\u0301", "\u0301\u0301", "\u20dd", "\u3000", "\u2003\u0301"])
def test_ids_that_show_nothing_are_refused(user_id):
    description = refusal(user_id)
    assert "show something" in description or "padded" in description


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"])
@pytest.mark.parametrize("where", ["{}alice", "al{}ice", "alice{}"])
def test_zero_width_characters_and_soft_hyphens_are_refused_anywhere(invisible, where):
    description = refusal(where.format(invisible))
    assert f"U+{ord(invisible):04X}" in description


@pytest.mark.parametrize("blank", ["\u3164", "\u2800", "\u115f", "\ufe0f"])
def test_blank_looking_characters_are_refused_inside_an_id_too(blank):
    assert "invisible" in refusal(f"alice{blank}")


def test_every_default_ignorable_range_is_refused():
    for low, high in DEFAULT_IGNORABLE:
        for code in {low, (low + high) // 2, high}:
            with pytest.raises(InvalidInput):
                check_user_id(f"a{chr(code)}b")


@pytest.mark.parametrize(
    "user_id",
    named(
        (CYRILLIC_A_LICE, "Cyrillic a, then Latin"),
        ("p\u0430ypal", "Cyrillic a inside"),
        ("\u0391lice", "GREEK CAPITAL LETTER ALPHA"),
        ("alpha\u03b2", "Latin with Greek beta"),
        ("\u0438van", "Cyrillic with Latin"),
        ("\u00b5g", "MICRO SIGN is Greek mu in NFKC"),
        ("\u0430\u043b\u0438c\u0435", "Cyrillic with one Latin c"),
        ("\u3072\ud55c", "Hiragana with Hangul: no allowed mix holds both"),
        ("\u3105\u3072", "Bopomofo with Hiragana"),
        ("\u05d0a", "Hebrew with Latin"),
    ),
)
def test_look_alikes_mixing_scripts_are_refused(user_id):
    assert "scripts" in refusal(user_id)


def test_the_refusal_names_the_scripts():
    assert "(Cyrillic, Latin)" in refusal(CYRILLIC_A_LICE)


@pytest.mark.parametrize(
    "user_id",
    named(
        ("\u0438\u0432\u0430\u043d-42", "Cyrillic with digits and punctuation"),
        ("\u03b1\u03b2\u03b3", "Greek"),
        ("\u0645\u062d\u0645\u062f", "Arabic"),
        ("\u05d3\u05d5\u05d3", "Hebrew"),
        ("\u0905\u092e\u093f\u0924", "Devanagari with a vowel sign (a mark)"),
        ("\u5c71\u7530\u305f\u308d\u3046", "Han + Hiragana"),
        ("\u30b8\u30e7\u30fc", "Katakana with the prolonged sound mark (common to kana)"),
        ("\u4f50\u3005\u6728", "Han with the ideographic iteration mark"),
        ("tanaka\u592a\u90ce\u3055\u3093\u30c1\u30e3\u30f3", "Latin + Han + Hiragana + Katakana"),
        ("\u3105\u3106\u738b", "Bopomofo + Han"),
        ("lee\u3105\u738b", "Bopomofo + Han + Latin"),
        ("\uae40\ucca0\uc218", "Hangul"),
        ("kim\uae40\u91d1", "Hangul + Latin + Han"),
        ("\u041c\u0430\u0440\u02bc\u044f\u043d\u0430", "Cyrillic with MODIFIER LETTER APOSTROPHE"),
        ("\U00017000\U00017001", "Tangut, which unicodedata gives no names"),
        ("caf\u00e9-\u2615", "a symbol is common to every script"),
        ("1234", "digits are common to every script"),
    ),
)
def test_one_script_and_the_allowed_mixes_are_accepted(user_id):
    assert check_user_id(user_id) == unicodedata.normalize("NFKC", user_id)


def test_scripts_of_characters():
    assert script_of("a") == {LATIN}
    assert script_of("\u0430") == {"CYRILLIC"}
    assert script_of("\u4e00") == script_of("\u3005") == {HAN}
    assert script_of("\u30fc") == {HIRAGANA, KATAKANA}
    for common in ["1", "-", "@", "\u0301", "\u02bc", "\u2615"]:
        assert script_of(common) == frozenset()


@pytest.mark.parametrize(
    "user_id",
    named(
        ("\uff0e\uff0e", "FULLWIDTH FULL STOP twice is .."),
        ("\uff0e", "FULLWIDTH FULL STOP is ."),
        ("a\uff0fb", "FULLWIDTH SOLIDUS"),
        ("a\uff3cb", "FULLWIDTH REVERSE SOLIDUS"),
        ("\u3000alice", "IDEOGRAPHIC SPACE is a space: padded"),
        ("alice\u2003", "EM SPACE: padded"),
    ),
)
def test_the_old_rules_apply_to_the_normalised_id(user_id):
    refusal(user_id)


@pytest.mark.parametrize("value", [None, 1, ["alice"], b"alice"])
def test_only_strings_are_ids(value):
    assert "string" in refusal(value)


def test_normalise_user_id_is_what_validation_uses():
    assert normalise_user_id(FULLWIDTH_ALICE) == check_user_id(FULLWIDTH_ALICE) == "alice"
