"""The data set's customers: where they live, which account they buy through, which
warehouse ships to them."""

from __future__ import annotations

from sim import catalog as cat
from sim.seed.drafts import CustomerDraft
from sim.seed.draw import Draw
from sources.records import Customer, MailingAddress


def draw_customers(draw: Draw, n: int) -> list[CustomerDraft]:
    r = draw.r
    accounts = dict(cat.ACCOUNTS)
    out = []
    for i in range(n):
        group = r.choices(("US", "EU", "INTL"), weights=(80, 12, 8))[0]
        if group == "US":
            place, street = r.choice(cat.US_PLACES), r.choice(cat.STREETS)
            home = cat.LOC_US_WEST if place.utc_offset <= -7 else cat.LOC_US_EAST
            line1 = f"{r.randint(1, 9899)} {street}"
        elif group == "EU":
            place = r.choice(cat.EU_PLACES)
            street = r.choice(cat.EU_STREETS[place.country_code])
            home, line1 = cat.LOC_EU, f"{street} {r.randint(1, 180)}"
        else:
            place, street = r.choice(cat.INTL_PLACES), r.choice(cat.STREETS)
            home, line1 = cat.LOC_US_EAST, f"{r.randint(1, 999)} {street}"
        first, last = r.choice(cat.FIRST_NAMES), r.choice(cat.LAST_NAMES)
        name = f"{first} {last}"
        calling = cat.CALLING_CODES[place.country_code]
        phone = f"{calling} 555-{r.randint(100, 999)}-{r.randint(1000, 9999)}"
        email_local = f"{first}.{last}".lower().replace(" ", "")
        customer = Customer(
            id=draw.id("cus", 5),
            name=name,
            email=f"{email_local}.{i + 1}@example.com",
            phone=phone if r.random() < 0.8 else None,
        )
        address = MailingAddress(
            name=name,
            line1=line1,
            line2=f"Apt {r.randint(1, 30)}{r.choice('ABCD')}" if r.random() < 0.25 else None,
            city=place.city,
            region=place.region,
            postal_code=place.postal_code,
            country_code=place.country_code,
            phone=customer.phone,
        )
        out.append(
            CustomerDraft(
                customer=customer,
                account_id=draw.pick(accounts),
                group=group,
                place=place,
                address=address,
                weight=r.choice((1, 1, 1, 2, 2, 3, 5, 8)),
                home=home,
            )
        )
    return out
