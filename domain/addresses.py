"""A shipping address as a caller sends it, checked before any source sees it:
required lines present, lengths bounded, no control characters, the country an
ISO 3166-1 alpha-2 code, the postal code shaped as the country writes it (for the
countries the shop ships to; elsewhere a generic shape) and a region where the
country's addresses need one.

The country codes are vendored (249 officially assigned codes, from Debian's
iso-codes 4.15.0, ``iso_3166-1.json``) rather than a dependency: a frozen list of
two-letter codes changes a few times a decade, and a library (pycountry) would add
a 10 MB package for one set lookup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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

# Postal codes as each country writes them (upper case; one optional space where the
# country puts one). Sources: the Universal Postal Union's addressing guides.
POSTAL_CODES: dict[str, re.Pattern[str]] = {
    country: re.compile(pattern)
    for country, pattern in {
        "US": r"\d{5}(-\d{4})?",
        "CA": r"[ABCEGHJ-NPRSTVXY]\d[A-Z] ?\d[A-Z]\d",
        "GB": r"(GIR ?0AA|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2})",
        "DE": r"\d{5}",
        "FR": r"\d{5}",
        "ES": r"\d{5}",
        "IT": r"\d{5}",
        "NL": r"[1-9]\d{3} ?[A-Z]{2}",
        "AT": r"\d{4}",
        "AU": r"\d{4}",
    }.items()
}
GENERIC_POSTAL_CODE = re.compile(r"[A-Z0-9][A-Z0-9 -]{1,10}[A-Z0-9]")
# Countries whose addresses need a state, province or territory code.
REGION_REQUIRED = frozenset({"US", "CA", "AU"})
REGION = re.compile(r"[A-Z0-9]{1,3}")
PHONE = re.compile(r"\+?[0-9][0-9 ().-]{3,30}")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")

LIMITS = {"name": 100, "line1": 100, "line2": 100, "city": 64, "region": 3, "postalCode": 12}
LIMITS |= {"countryCode": 2, "phone": 32}


@dataclass(frozen=True, slots=True)
class AddressProblem:
    field: str  # the input field's GraphQL name, e.g. "postalCode"
    message: str
    code: str


def address_problems(
    *,
    name: str,
    line1: str,
    line2: str | None,
    city: str,
    region: str | None,
    postal_code: str,
    country_code: str,
    phone: str | None,
) -> list[AddressProblem]:
    """Everything wrong with an address, field by field (empty: it may be sent)."""
    problems: list[AddressProblem] = []
    values = {
        "name": name,
        "line1": line1,
        "line2": line2,
        "city": city,
        "region": region,
        "postalCode": postal_code,
        "countryCode": country_code,
        "phone": phone,
    }
    for field, value in values.items():
        required = field in ("name", "line1", "city", "postalCode", "countryCode")
        if value is None or not value.strip():
            if required or (field == "region" and country_code in REGION_REQUIRED):
                problems.append(AddressProblem(field, f"{field} is required", REQUIRED))
            continue
        if len(value) > LIMITS[field]:
            problems.append(
                AddressProblem(field, f"{field} is at most {LIMITS[field]} characters", TOO_LONG)
            )
        elif CONTROL.search(value):
            problems.append(AddressProblem(field, f"{field} has control characters", INVALID))
    bad = {problem.field for problem in problems}
    if "countryCode" not in bad and country_code not in COUNTRY_CODES:
        problems.append(
            AddressProblem(
                "countryCode",
                "countryCode is not an ISO 3166-1 alpha-2 code (two capital letters, e.g. US)",
                INVALID_COUNTRY,
            )
        )
        bad.add("countryCode")
    if "postalCode" not in bad:
        shape = POSTAL_CODES.get(country_code, GENERIC_POSTAL_CODE)
        if not shape.fullmatch(postal_code.strip().upper()):
            where = f"in {country_code}" if country_code in POSTAL_CODES else "anywhere"
            problems.append(
                AddressProblem(
                    "postalCode", f"postalCode is not a postal code {where}", INVALID_POSTAL_CODE
                )
            )
    if region and region.strip() and "region" not in bad and not REGION.fullmatch(region.strip()):
        problems.append(
            AddressProblem("region", "region is a state or province code, e.g. NY", INVALID)
        )
    if phone and phone.strip() and "phone" not in bad and not PHONE.fullmatch(phone.strip()):
        problems.append(AddressProblem("phone", "phone is not a phone number", INVALID))
    return problems
