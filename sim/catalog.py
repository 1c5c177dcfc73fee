"""Static vocabularies for the simulated data set: places, locations, SKUs, names, carriers.

Everything here is constant; :mod:`sim.seed` draws from it with a seeded RNG.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta, timezone

from sources.records import CheckpointLocation, Location, ShipmentStatus


@dataclass(frozen=True, slots=True)
class Place:
    """A city with a postcode and a fixed UTC offset (carrier scans are in local time)."""

    city: str
    region: str | None
    postal_code: str
    country_code: str
    utc_offset: float  # hours

    @property
    def tz(self) -> timezone:
        return timezone(timedelta(hours=self.utc_offset))

    def checkpoint_location(self) -> CheckpointLocation:
        return CheckpointLocation(
            city=self.city.upper(),
            region=self.region,
            postal_code=self.postal_code,
            country_code=self.country_code,
        )


# --- accounts and locations ----------------------------------------------------------

ACCOUNTS: tuple[tuple[str, int], ...] = (
    ("acct_webshop", 60),
    ("acct_marketplace", 20),
    ("acct_partner_north", 10),
    ("acct_partner_south", 10),
)

LOC_US_EAST = "loc_us_east"
LOC_US_WEST = "loc_us_west"
LOC_EU = "loc_eu_venlo"
LOC_STORE = "loc_store_soho"

LOCATIONS: dict[str, Location] = {
    LOC_US_EAST: Location(id=LOC_US_EAST, name="Edison NJ Distribution Center", country_code="US"),
    LOC_US_WEST: Location(id=LOC_US_WEST, name="Reno NV Distribution Center", country_code="US"),
    LOC_EU: Location(id=LOC_EU, name="Venlo EU Fulfilment Centre", country_code="NL"),
    LOC_STORE: Location(id=LOC_STORE, name="SoHo Store New York", country_code="US"),
}
WAREHOUSES = (LOC_US_EAST, LOC_US_WEST, LOC_EU)

LOCATION_PLACES: dict[str, Place] = {
    LOC_US_EAST: Place("Edison", "NJ", "08817", "US", -5),
    LOC_US_WEST: Place("Reno", "NV", "89502", "US", -8),
    LOC_EU: Place("Venlo", "LI", "5928 RB", "NL", 1),
    LOC_STORE: Place("New York", "NY", "10012", "US", -5),
}

# --- customer places -----------------------------------------------------------------

US_PLACES: tuple[Place, ...] = (
    Place("New York", "NY", "10001", "US", -5),
    Place("Brooklyn", "NY", "11201", "US", -5),
    Place("Boston", "MA", "02118", "US", -5),
    Place("Philadelphia", "PA", "19103", "US", -5),
    Place("Atlanta", "GA", "30308", "US", -5),
    Place("Miami", "FL", "33130", "US", -5),
    Place("Charlotte", "NC", "28202", "US", -5),
    Place("Chicago", "IL", "60614", "US", -6),
    Place("Austin", "TX", "78701", "US", -6),
    Place("Dallas", "TX", "75201", "US", -6),
    Place("Minneapolis", "MN", "55401", "US", -6),
    Place("Denver", "CO", "80202", "US", -7),
    Place("Phoenix", "AZ", "85004", "US", -7),
    Place("Seattle", "WA", "98101", "US", -8),
    Place("Portland", "OR", "97205", "US", -8),
    Place("San Francisco", "CA", "94110", "US", -8),
    Place("Los Angeles", "CA", "90012", "US", -8),
    Place("San Diego", "CA", "92101", "US", -8),
)
EU_PLACES: tuple[Place, ...] = (
    Place("Berlin", None, "10115", "DE", 1),
    Place("Munich", "BY", "80331", "DE", 1),
    Place("Hamburg", None, "20095", "DE", 1),
    Place("Paris", None, "75011", "FR", 1),
    Place("Lyon", None, "69002", "FR", 1),
    Place("Amsterdam", "NH", "1012 AB", "NL", 1),
    Place("Madrid", None, "28013", "ES", 1),
    Place("Milan", "MI", "20121", "IT", 1),
    Place("Vienna", None, "1010", "AT", 1),
)
INTL_PLACES: tuple[Place, ...] = (
    Place("Toronto", "ON", "M5V 2T6", "CA", -5),
    Place("Vancouver", "BC", "V6B 1A1", "CA", -8),
    Place("London", None, "EC1A 1BB", "GB", 0),
    Place("Manchester", None, "M1 1AE", "GB", 0),
    Place("Sydney", "NSW", "2000", "AU", 11),
)
CUSTOMS_GATEWAYS: dict[str, Place] = {
    "CA": Place("Mississauga", "ON", "L5T 2N7", "CA", -5),
    "GB": Place("East Midlands", None, "DE74 2TR", "GB", 0),
    "AU": Place("Sydney", "NSW", "2020", "AU", 11),
}

CALLING_CODES = {
    "US": "+1", "CA": "+1", "GB": "+44", "AU": "+61", "DE": "+49", "FR": "+33", "NL": "+31",
    "ES": "+34", "IT": "+39", "AT": "+43",
}  # fmt: skip
STREETS = (
    "Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Park Ave", "Elm St", "Washington Blvd",
    "Lake Shore Dr", "Sunset Blvd", "Market St", "Broadway", "Highland Ave", "Pine St",
)  # fmt: skip
EU_STREETS = {
    "DE": ("Hauptstraße", "Bahnhofstraße", "Schillerstraße"),
    "FR": ("Rue de Rivoli", "Rue Mercière", "Avenue Jean Jaurès"),
    "NL": ("Keizersgracht", "Damrak"),
    "ES": ("Calle Mayor", "Gran Vía"),
    "IT": ("Via Torino", "Corso Buenos Aires"),
    "AT": ("Kärntner Straße", "Mariahilfer Straße"),
}
FIRST_NAMES = (
    "Maya", "Liam", "Olivia", "Noah", "Emma", "Ethan", "Ava", "Lucas", "Sofia", "Mason",
    "Isabella", "Elijah", "Mia", "James", "Amelia", "Benjamin", "Harper", "Daniel", "Chloe",
    "Jonas", "Léa", "Luca", "Marta", "Pieter", "Anouk", "Priya", "Kenji", "Aisha", "Mateo",
)  # fmt: skip
LAST_NAMES = (
    "Thompson", "Garcia", "Nguyen", "Patel", "Johnson", "Müller", "Rossi", "Dubois", "Smith",
    "Kowalski", "Jansen", "Fernández", "Okafor", "Kim", "Brown", "Schmidt", "Martin", "Lee",
    "Walker", "Bianchi", "de Vries", "Hughes", "Chen", "Novak", "Silva",
)  # fmt: skip

# --- SKUs (sku, name, USD price in cents) --------------------------------------------

SKUS: tuple[tuple[str, str, int], ...] = (
    ("TEE-ORG-BLK-M", "Organic Cotton Tee, Black, M", 2800),
    ("TEE-ORG-WHT-L", "Organic Cotton Tee, White, L", 2800),
    ("HOOD-FLC-GRY-M", "Fleece Hoodie, Heather Grey, M", 6900),
    ("HOOD-FLC-NVY-L", "Fleece Hoodie, Navy, L", 6900),
    ("JKT-RAIN-OLV-M", "Packable Rain Jacket, Olive, M", 12900),
    ("JKT-DOWN-BLK-L", "Lightweight Down Jacket, Black, L", 18900),
    ("PANT-CHI-KHK-32", "Stretch Chino, Khaki, 32/32", 7400),
    ("SOCK-MER-3PK", "Merino Hiking Socks, 3-Pack", 3400),
    ("CAP-WOOL-CHR", "Wool Beanie, Charcoal", 2600),
    ("SHOE-TRL-42", "Trail Running Shoe, EU 42", 13900),
    ("SHOE-TRL-44", "Trail Running Shoe, EU 44", 13900),
    ("BAG-DAY-20L", "Daypack 20 L, Slate", 8900),
    ("BAG-DUF-40L", "Weekender Duffel 40 L", 11900),
    ("BTL-INS-750", "Insulated Bottle 750 ml", 3200),
    ("MUG-CER-350", "Stoneware Mug 350 ml", 1800),
    ("KTL-GSN-1L", "Gooseneck Kettle 1 L", 7900),
    ("GRD-BUR-CON", "Conical Burr Grinder", 14900),
    ("PRS-FRN-800", "French Press 800 ml", 3900),
    ("PAN-CST-26", "Cast Iron Skillet 26 cm", 5400),
    ("KNF-CHF-20", "Chef's Knife 20 cm", 8900),
    ("BRD-OAK-L", "Oak Cutting Board, Large", 4900),
    ("TWL-LIN-SET", "Linen Towel Set of 3", 3600),
    ("BLK-WOL-THR", "Wool Throw Blanket", 11900),
    ("PIL-LIN-50", "Linen Pillow Cover 50x50", 2900),
    ("LMP-DSK-BRS", "Brass Desk Lamp", 12900),
    ("CND-SOY-CDR", "Soy Candle, Cedar", 2400),
    ("DIF-ARO-WHT", "Aroma Diffuser, White", 4500),
    ("SPK-BT-MINI", "Mini Bluetooth Speaker", 5900),
    ("HDP-ANC-BLK", "Noise-Cancelling Headphones", 24900),
    ("CHG-USBC-65", "USB-C Charger 65 W", 3900),
    ("CBL-USBC-2M", "Braided USB-C Cable 2 m", 1500),
    ("PWR-BNK-10K", "Power Bank 10,000 mAh", 4200),
    ("NTB-DOT-A5", "Dot Grid Notebook A5", 1600),
    ("PEN-FTN-BLK", "Fountain Pen, Black", 3800),
    ("YOG-MAT-6MM", "Yoga Mat 6 mm", 5800),
    ("DBL-ADJ-20", "Adjustable Dumbbell 20 kg", 19900),
    ("BND-RES-SET", "Resistance Band Set", 2700),
    ("PLT-CER-S", "Ceramic Planter, Small", 2200),
    ("TOY-WOD-BLK", "Wooden Building Blocks", 3900),
    ("GFT-CRD-50", "Gift Box Wrapping", 500),
)

# --- delivery services: (name, min days, max days) -----------------------------------

US_SERVICES = (("Standard Shipping", 3, 6), ("Express Shipping", 1, 3), ("Economy Shipping", 5, 9))
EU_SERVICES = (("DHL Express Europe", 2, 4), ("Standard EU Delivery", 3, 6))
INTL_SERVICES = (("International Express", 4, 8), ("International Standard", 7, 14))
PICKUP_SERVICE = ("Pick up in store: SoHo", 2, 4)

# --- carriers ------------------------------------------------------------------------

CARRIER_NAMES = {"ups": "UPS", "usps": "USPS", "fedex": "FedEx", "dhl": "DHL"}
UPS_SHIPPER_IDS = {
    LOC_US_EAST: "A1E274",
    LOC_US_WEST: "W08R5X",
    LOC_EU: "E9V310",
    LOC_STORE: "S0H0N1",
}

CARRIER_HUBS: dict[str, tuple[Place, ...]] = {
    "ups": (Place("Louisville", "KY", "40209", "US", -5),),
    "fedex": (Place("Memphis", "TN", "38118", "US", -6),),
    "usps": (
        Place("Jersey City", "NJ", "07097", "US", -5),
        Place("Chicago", "IL", "60666", "US", -6),
        Place("Denver", "CO", "80266", "US", -7),
    ),
    "dhl": (Place("Erlanger", "KY", "41018", "US", -5),),
}
EU_HUB = Place("Leipzig", "SN", "04435", "DE", 1)

# step -> (normalised status, AfterShip tag, AfterShip subtag)
STEPS: dict[str, tuple[ShipmentStatus, str, str]] = {
    "label": (ShipmentStatus.LABEL_CREATED, "InfoReceived", "InfoReceived_001"),
    "pickup": (ShipmentStatus.IN_TRANSIT, "InTransit", "InTransit_002"),
    "depart": (ShipmentStatus.IN_TRANSIT, "InTransit", "InTransit_007"),
    "arrive": (ShipmentStatus.IN_TRANSIT, "InTransit", "InTransit_003"),
    "customs_in": (ShipmentStatus.IN_TRANSIT, "InTransit", "InTransit_006"),
    "customs_cleared": (ShipmentStatus.IN_TRANSIT, "InTransit", "InTransit_005"),
    "customs_hold": (ShipmentStatus.EXCEPTION, "Exception", "Exception_004"),
    "weather": (ShipmentStatus.IN_TRANSIT, "InTransit", "InTransit_001"),
    "ofd": (ShipmentStatus.OUT_FOR_DELIVERY, "OutForDelivery", "OutForDelivery_001"),
    "attempt": (ShipmentStatus.DELIVERY_ATTEMPTED, "AttemptFail", "AttemptFail_002"),
    "attempt_closed": (ShipmentStatus.DELIVERY_ATTEMPTED, "AttemptFail", "AttemptFail_003"),
    "delivered": (ShipmentStatus.DELIVERED, "Delivered", "Delivered_001"),
    "signed": (ShipmentStatus.DELIVERED, "Delivered", "Delivered_003"),
    "ready": (ShipmentStatus.READY_FOR_PICKUP, "AvailableForPickup", "AvailableForPickup_001"),
    "picked_up": (ShipmentStatus.DELIVERED, "Delivered", "Delivered_002"),
    "address": (ShipmentStatus.EXCEPTION, "Exception", "Exception_007"),
    "not_collected": (ShipmentStatus.EXCEPTION, "Exception", "Exception_008"),
    "returning": (ShipmentStatus.RETURNING_TO_SENDER, "Exception", "Exception_010"),
    "returned": (ShipmentStatus.RETURNED_TO_SENDER, "Exception", "Exception_011"),
    "lost": (ShipmentStatus.EXCEPTION, "Exception", "Exception_013"),
}
# steps where the carrier tried to hand the parcel over (successfully or not): the first
# one is the tracking's ``first_attempted_at``
ATTEMPT_STEPS = frozenset({"attempt", "attempt_closed", "delivered", "signed"})

_DEFAULT_MESSAGES = {
    "label": "SHIPPER CREATED A LABEL, {carrier} HAS NOT RECEIVED THE PACKAGE YET",
    "pickup": "PICKUP SCAN",
    "depart": "DEPARTED FROM FACILITY",
    "arrive": "ARRIVED AT FACILITY",
    "customs_in": "SHIPMENT SUBMITTED TO CUSTOMS",
    "customs_cleared": "IMPORT SCAN: CLEARED CUSTOMS",
    "customs_hold": "CLEARANCE DELAY - IMPORT: AWAITING DOCUMENTATION FROM IMPORTER",
    "weather": "WEATHER DELAY: SEVERE WEATHER CONDITIONS HAVE DELAYED DELIVERY",
    "ofd": "OUT FOR DELIVERY TODAY",
    "attempt": "THE RECEIVER WAS NOT AVAILABLE FOR DELIVERY. A SECOND ATTEMPT WILL BE MADE",
    "attempt_closed": "THE RECEIVER'S BUSINESS WAS CLOSED ON THE DELIVERY ATTEMPT",
    "delivered": "DELIVERED",
    "signed": "DELIVERED, SIGNED BY {signer}",
    "ready": "DELIVERED TO {point}. AWAITING CUSTOMER PICKUP",
    "picked_up": "PICKED UP BY CUSTOMER AT {point}",
    "address": "THE STREET NUMBER IS INCORRECT. UNABLE TO DELIVER, CONTACTING RECEIVER",
    "not_collected": "PACKAGE NOT COLLECTED WITHIN THE HOLD PERIOD",
    "returning": "RETURNING TO SENDER: {reason}",
    "returned": "RETURNED TO SENDER",
    "lost": "PACKAGE CANNOT BE LOCATED. A TRACE HAS BEEN INITIATED",
}
CARRIER_MESSAGES: dict[str, dict[str, str]] = {
    "ups": {**_DEFAULT_MESSAGES, "pickup": "ORIGIN SCAN", "arrive": "ARRIVAL SCAN"},
    "usps": {
        **_DEFAULT_MESSAGES,
        "label": "SHIPPING LABEL CREATED, USPS AWAITING ITEM",
        "pickup": "USPS IN POSSESSION OF ITEM",
        "arrive": "ARRIVED AT USPS REGIONAL FACILITY",
        "depart": "DEPARTED USPS REGIONAL FACILITY",
        "ofd": "OUT FOR DELIVERY",
        "attempt": "NOTICE LEFT (NO AUTHORIZED RECIPIENT AVAILABLE)",
        "attempt_closed": "NOTICE LEFT (BUSINESS CLOSED)",
        "delivered": "DELIVERED, FRONT DOOR/PORCH",
        "address": "INSUFFICIENT ADDRESS",
        "lost": "ALERT: ITEM CANNOT BE LOCATED",
        "returned": "DELIVERED, TO ORIGINAL SENDER",
    },
    "fedex": {
        **_DEFAULT_MESSAGES,
        "label": "Shipment information sent to FedEx",
        "pickup": "Picked up",
        "depart": "Departed FedEx location",
        "arrive": "Arrived at FedEx location",
        "ofd": "On FedEx vehicle for delivery",
        "attempt": "Customer not available or business closed",
        "delivered": "Delivered",
        "address": "Incorrect address - Unable to deliver",
        "customs_hold": "International shipment release - Import: Clearance delay",
    },
    "dhl": {
        **_DEFAULT_MESSAGES,
        "label": "Shipment information received",
        "pickup": "Shipment picked up",
        "depart": "Departed Facility",
        "arrive": "Arrived at DHL Sort Facility",
        "customs_in": "Customs status updated",
        "customs_cleared": "Clearance processing complete",
        "customs_hold": "Clearance delay: shipment on hold, awaiting documents from importer",
        "ofd": "With delivery courier",
        "delivered": "Delivered",
        "attempt": "Delivery attempted; recipient not home",
        "address": "Incorrect address; attempting to contact recipient",
    },
}
SIGNERS = ("FRONT DESK", "RECEPTION", "MAILROOM", "J SMITH", "M GARCIA", "A PATEL", "K LEE")

# --- tickets ---------------------------------------------------------------------------

FIRST_TICKET_ID = 52001  # seeded tickets are numbered from here in creation order
FIRST_COMMENT_ID = 7_100_001


TICKETS_URL = "https://support.example.com/tickets"  # where agents open tickets


def ticket_url(ticket_id: str) -> str:
    """Where an agent opens the ticket in the help desk."""
    return f"{TICKETS_URL}/{ticket_id}"
