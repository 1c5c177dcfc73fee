"""A shipping address as a caller sends it, checked and normalised before any source
sees it: required lines present (a value of only spaces and invisible characters is
blank), lengths bounded, no control, line-breaking or bidi-override characters, the
country an ISO 3166-1 alpha-2 code, the postal code shaped as the country writes it
(elsewhere a generic shape) and present where the country's addresses need one, and a
region from the country's list where the country's addresses need one. What is sent on
is the address as it was checked: stripped, postal code and region in upper case.

Postal code shapes and region lists are Google's address metadata
(``domain/address_metadata.py``). The country codes are vendored (249 officially
assigned codes, from Debian's iso-codes 4.15.0, ``iso_3166-1.json``) rather than a
dependency: a frozen list of two-letter codes changes a few times a decade, and a
library (pycountry) would add a 10 MB package for one set lookup.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from domain.address_metadata import POSTAL_CODE_PATTERNS, POSTAL_CODE_REQUIRED, REGION_CODES
from sources.records import MailingAddress

REQUIRED = "REQUIRED"
TOO_LONG = "TOO_LONG"
INVALID = "INVALID"
INVALID_COUNTRY = "INVALID_COUNTRY"
INVALID_POSTAL_CODE = "INVALID_POSTAL_CODE"

COUNTRY_CODES = frozenset(
    (
        "AD",
        "AE",
        "AF",
        "AG",
        "AI",
        "AL",
        "AM",
        "AO",
        "AQ",
        "AR",
        "AS",
        "AT",
        "AU",
        "AW",
        "AX",
        "AZ",
        "BA",
        "BB",
        "BD",
        "BE",
        "BF",
        "BG",
        "BH",
        "BI",
        "BJ",
        "BL",
        "BM",
        "BN",
        "BO",
        "BQ",
        "BR",
        "BS",
        "BT",
        "BV",
        "BW",
        "BY",
        "BZ",
        "CA",
        "CC",
        "CD",
        "CF",
        "CG",
        "CH",
        "CI",
        "CK",
        "CL",
        "CM",
        "CN",
        "CO",
        "CR",
        "CU",
        "CV",
        "CW",
        "CX",
        "CY",
        "CZ",
        "DE",
        "DJ",
        "DK",
        "DM",
        "DO",
        "DZ",
        "EC",
        "EE",
        "EG",
        "EH",
        "ER",
        "ES",
        "ET",
        "FI",
        "FJ",
        "FK",
        "FM",
        "FO",
        "FR",
        "GA",
        "GB",
        "GD",
        "GE",
        "GF",
        "GG",
        "GH",
        "GI",
        "GL",
        "GM",
        "GN",
        "GP",
        "GQ",
        "GR",
        "GS",
        "GT",
        "GU",
        "GW",
        "GY",
        "HK",
        "HM",
        "HN",
        "HR",
        "HT",
        "HU",
        "ID",
        "IE",
        "IL",
        "IM",
        "IN",
        "IO",
        "IQ",
        "IR",
        "IS",
        "IT",
        "JE",
        "JM",
        "JO",
        "JP",
        "KE",
        "KG",
        "KH",
        "KI",
        "KM",
        "KN",
        "KP",
        "KR",
        "KW",
        "KY",
        "KZ",
        "LA",
        "LB",
        "LC",
        "LI",
        "LK",
        "LR",
        "LS",
        "LT",
        "LU",
        "LV",
        "LY",
        "MA",
        "MC",
        "MD",
        "ME",
        "MF",
        "MG",
        "MH",
        "MK",
        "ML",
        "MM",
        "MN",
        "MO",
        "MP",
        "MQ",
        "MR",
        "MS",
        "MT",
        "MU",
        "MV",
        "MW",
        "MX",
        "MY",
        "MZ",
        "NA",
        "NC",
        "NE",
        "NF",
        "NG",
        "NI",
        "NL",
        "NO",
        "NP",
        "NR",
        "NU",
        "NZ",
        "OM",
        "PA",
        "PE",
        "PF",
        "PG",
        "PH",
        "PK",
        "PL",
        "PM",
        "PN",
        "PR",
        "PS",
        "PT",
        "PW",
        "PY",
        "QA",
        "RE",
        "RO",
        "RS",
        "RU",
        "RW",
        "SA",
        "SB",
        "SC",
        "SD",
        "SE",
        "SG",
        "SH",
        "SI",
        "SJ",
        "SK",
        "SL",
        "SM",
        "SN",
        "SO",
        "SR",
        "SS",
        "ST",
        "SV",
        "SX",
        "SY",
        "SZ",
        "TC",
        "TD",
        "TF",
        "TG",
        "TH",
        "TJ",
        "TK",
        "TL",
        "TM",
        "TN",
        "TO",
        "TR",
        "TT",
        "TV",
        "TW",
        "TZ",
        "UA",
        "UG",
        "UM",
        "US",
        "UY",
        "UZ",
        "VA",
        "VC",
        "VE",
        "VG",
        "VI",
        "VN",
        "VU",
        "WF",
        "WS",
        "YE",
        "YT",
        "ZA",
        "ZM",
        "ZW",
    )
)

POSTAL_CODES = {country: re.compile(shape) for country, shape in POSTAL_CODE_PATTERNS.items()}
GENERIC_POSTAL_CODE = re.compile(r"[A-Z0-9][A-Z0-9 -]{1,10}[A-Z0-9]")
REGION = re.compile(r"[A-Z0-9]{1,3}")
PHONE = re.compile(r"\+?[0-9][0-9 ().-]{3,30}")
# C0 and C1 controls and DEL, the line and paragraph separators, and the bidi embeddings,
# overrides and isolates (they reorder the text after them on a label or in a log). The
# joiners and marks some scripts need (ZWNJ, ZWJ, LRM, RLM) are not among them.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

LIMITS = {"name": 100, "line1": 100, "line2": 100, "city": 64, "region": 3, "postalCode": 12}
LIMITS |= {"countryCode": 2, "phone": 32}


@dataclass(frozen=True, slots=True)
class AddressProblem:
    field: str  # the input field's GraphQL name, e.g. "postalCode"
    message: str
    code: str


@dataclass(frozen=True, slots=True)
class CheckedAddress:
    address: MailingAddress  # as checked, to be sent on: blank optional fields are None
    problems: list[AddressProblem]  # empty: the address may be sent


def check_address(
    *,
    name: str,
    line1: str,
    line2: str | None,
    city: str,
    region: str | None,
    postal_code: str,
    country_code: str,
    phone: str | None,
) -> CheckedAddress:
    """The address normalised, and everything wrong with it, field by field."""
    values = {
        "name": _text(name),
        "line1": _text(line1),
        "line2": _text(line2),
        "city": _text(city),
        "region": _text(region, upper=True),
        "postalCode": _text(postal_code, upper=True),
        "countryCode": _text(country_code),
        "phone": _text(phone),
    }
    country = values["countryCode"] or ""
    required = {"name", "line1", "city", "countryCode"}
    required |= {"postalCode"} if country in POSTAL_CODE_REQUIRED else set()
    required |= {"region"} if country in REGION_CODES else set()
    problems: list[AddressProblem] = []
    for field, value in values.items():
        if value is None:
            if field in required:
                problems.append(AddressProblem(field, f"{field} is required", REQUIRED))
        elif CONTROL.search(value):
            problems.append(AddressProblem(field, f"{field} has control characters", INVALID))
        elif len(value) > LIMITS[field]:
            problems.append(
                AddressProblem(field, f"{field} is at most {LIMITS[field]} characters", TOO_LONG)
            )
    bad = {problem.field for problem in problems}
    if "countryCode" not in bad and country not in COUNTRY_CODES:
        problems.append(
            AddressProblem(
                "countryCode",
                "countryCode is not an ISO 3166-1 alpha-2 code (two capital letters, e.g. US)",
                INVALID_COUNTRY,
            )
        )
        bad.add("countryCode")
    postal = values["postalCode"]
    if postal is not None and "postalCode" not in bad:
        shape = POSTAL_CODES.get(country, GENERIC_POSTAL_CODE)
        if not shape.fullmatch(postal):
            where = f"in {country}" if country in POSTAL_CODES else "anywhere"
            problems.append(
                AddressProblem(
                    "postalCode", f"postalCode is not a postal code {where}", INVALID_POSTAL_CODE
                )
            )
    region = values["region"]
    if region is not None and "region" not in bad:
        if country in REGION_CODES and region not in REGION_CODES[country]:
            problems.append(
                AddressProblem(
                    "region",
                    f"region is not a state, province or territory code of {country}",
                    INVALID,
                )
            )
        elif country not in REGION_CODES and not REGION.fullmatch(region):
            problems.append(
                AddressProblem("region", "region is a state or province code, e.g. NY", INVALID)
            )
    phone = values["phone"]
    if phone is not None and "phone" not in bad and not PHONE.fullmatch(phone):
        problems.append(AddressProblem("phone", "phone is not a phone number", INVALID))
    address = MailingAddress(
        name=values["name"] or "",
        line1=values["line1"] or "",
        line2=values["line2"],
        city=values["city"] or "",
        region=region,
        postal_code=postal or "",
        country_code=country,
        phone=phone,
    )
    return CheckedAddress(address, problems)


def _text(value: str | None, *, upper: bool = False) -> str | None:
    """The value stripped (upper case for the codes checked so); None when nothing
    visible is in it: only whitespace and format characters such as zero-width spaces."""
    if value is None or all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in value):
        return None
    return value.strip().upper() if upper else value.strip()
