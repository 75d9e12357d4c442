"""The simulated business: its price list (products), product lines, industries and regions,
sales segments, deal types, stages and sources, the event model's base logits, usage rates and
the words names are made of."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from pipeline.ingestion.contract import SEGMENT_NAMES


@dataclass(frozen=True)
class Product:
    """One price-list entry (a row of `products`)."""

    product_id: str
    product_name: str
    list_price: float
    unit: Literal["seat", "flat"]
    family: str | None = None
    tier_rank: int | None = None


PRODUCTS: tuple[Product, ...] = (
    Product("P01", "Workspace Starter", 120.0, "seat", "Workspace", 1),
    Product("P02", "Workspace Professional", 300.0, "seat", "Workspace", 2),
    Product("P03", "Workspace Enterprise", 600.0, "seat", "Workspace", 3),
    Product("P04", "Analytics Standard", 200.0, "seat", "Analytics", 1),
    Product("P05", "Analytics Plus", 450.0, "seat", "Analytics", 2),
    Product("P06", "Field Mobile", 90.0, "seat"),
    Product("P07", "Security Suite", 12_000.0, "flat"),
    Product("P08", "Premium Support", 8_000.0, "flat"),
    Product("P09", "API Platform", 15_000.0, "flat"),
    Product("P10", "Data Connectors", 6_000.0, "flat"),
)

INDUSTRIES: tuple[tuple[str, float], ...] = (
    ("Technology", 0.22),
    ("Financial Services", 0.14),
    ("Healthcare", 0.12),
    ("Manufacturing", 0.13),
    ("Retail", 0.12),
    ("Professional Services", 0.12),
    ("Education", 0.08),
    ("Media", 0.07),
)
REGIONS: tuple[tuple[str, float], ...] = (("NA", 0.45), ("EMEA", 0.30), ("APAC", 0.17), ("LATAM", 0.08))


@dataclass(frozen=True)
class ProductLine:
    """Products an account holds at most one of at a time: a tier ladder or a single product.

    Logits: `initial` of holding the line when the account starts, `cross_sell` of a cross-sell
    conversation per quarter; both plus `size_fit` per tenfold employees (relative to 100) plus
    the industry's `affinity` (INDUSTRIES order). `users_share`: share of the account's
    workspace users who use a seat line."""

    name: str
    products: tuple[int, ...]
    users_share: tuple[float, float]
    initial: float
    cross_sell: float
    size_fit: float
    affinity: tuple[float, ...]


PRODUCT_LINES: tuple[ProductLine, ...] = (
    ProductLine("Workspace", (0, 1, 2), (1.0, 1.0), 0.0, 0.0, 0.0, (0, 0, 0, 0, 0, 0, 0, 0)),
    ProductLine("Analytics", (3, 4), (0.15, 0.5), -1.4, -3.5, 0.3, (0.5, 0.6, 0.2, 0.0, 0.4, 0.2, -0.4, 0.3)),
    ProductLine("Field Mobile", (5,), (0.1, 0.4), -1.9, -3.8, 0.1, (-1.5, -1.5, 0.3, 1.2, 0.8, -0.5, -0.8, -0.3)),
    ProductLine("Security Suite", (6,), (0, 0), -3.4, -4.8, 1.2, (0.3, 1.2, 1.0, 0.0, -0.2, 0.0, -0.3, -0.3)),
    ProductLine("Premium Support", (7,), (0, 0), -3.2, -4.6, 1.1, (0.0, 0.5, 0.4, 0.2, 0.0, -0.2, -0.5, -0.3)),
    ProductLine("API Platform", (8,), (0, 0), -3.8, -5.0, 1.2, (1.2, 0.3, -0.3, -0.5, 0.0, -0.4, -0.8, 0.4)),
    ProductLine("Data Connectors", (9,), (0, 0), -3.2, -4.6, 0.9, (0.8, 0.2, 0.0, 0.4, 0.6, -0.2, -0.5, 0.3)),
)
WORKSPACE = 0  # the base line: every customer holds one workspace tier until it churns

# Expansion reps per segment: (name, lowest ACV, book_max of a full-capacity rep), in the
# contract's order of SEGMENT_NAMES.
SEGMENTS: tuple[tuple[str, float, int], ...] = tuple(
    zip(SEGMENT_NAMES, (5_000.0, 25_000.0, 100_000.0), (100, 40, 20), strict=True)
)
BOOK_LOAD = 0.75  # reps are sized so that books are 75% of book_max
CSM_BOOK = 40  # accounts per CSM

OPPORTUNITY_TYPES = ("expansion", "renewal", "new_logo")
STAGES = ("open", "won", "lost")
# source mix of expansion deals (DEAL_SOURCES order, then null), with and without a CSM
SOURCE_MIX_WITH_CSM = (0.26, 0.30, 0.16, 0.13, 0.12, 0.03)
SOURCE_MIX_WITHOUT_CSM = (0.0, 0.80, 0.0, 0.0, 0.17, 0.03)

# Event model: logits per quarter, before propensity / utilisation / fit terms.
SEAT_EXPANSION_LOGIT = -2.4
UPGRADE_LOGIT = -4.2
CONTRACTION_LOGIT = -4.6
PRODUCT_CHURN_LOGIT = -4.8
ACCOUNT_CHURN_LOGIT = -3.9  # at the yearly renewal
WIN_LOGIT = {"seats": -0.6, "upgrade": -0.9, "cross_sell": -0.9}
OPEN_PIPELINE_LOGIT = -1.7  # an assigned account has an open expansion deal at the data end
MAX_SEAT_SHARE = 0.85  # an account never buys more seats of one product than this share of employees

# Weekly events per active user, by product (seat products only are used).
EVENTS_PER_USER = (25.0, 35.0, 45.0, 12.0, 18.0, 20.0, 0.0, 0.0, 0.0, 0.0)

NAME_STARTS = (
    "North", "Blue", "Silver", "Bright", "Iron", "Cedar", "Summit", "Harbor", "Pine", "Red",
    "Golden", "Granite", "River", "Stone", "Maple", "Crescent", "Falcon", "Atlas", "Nova", "Vertex",
    "Prairie", "Coastal", "Ever", "Orchid", "Meridian", "Key", "Pioneer", "Union", "Lake", "West",
)
NAME_ENDS = ("field", "point", "bridge", "wave", "line", "gate", "works", "stone", "light", "peak",
             "path", "view", "crest", "wood", "port", "ridge")
NAME_KINDS = (
    "Systems", "Labs", "Group", "Holdings", "Partners", "Logistics", "Health", "Foods", "Energy",
    "Media", "Capital", "Industries", "Software", "Retail", "Consulting", "Manufacturing",
    "Networks", "Solutions", "Studios", "Insurance",
)
FIRST_NAMES = (
    "Alex", "Maria", "James", "Priya", "Chen", "Sofia", "David", "Amara", "Lucas", "Hannah",
    "Omar", "Elena", "Noah", "Yuki", "Liam", "Fatima", "Mateo", "Grace", "Ethan", "Zara",
    "Daniel", "Ingrid", "Samuel", "Leila", "Victor", "Nora", "Felix", "Aisha", "Oscar", "Clara",
)
LAST_NAMES = (
    "Smith", "Garcia", "Müller", "Patel", "Wang", "Rossi", "Johnson", "Okafor", "Silva", "Schmidt",
    "Kim", "Nowak", "Brown", "Tanaka", "Martin", "Haddad", "Lopez", "Novak", "Taylor", "Khan",
    "Dubois", "Larsen", "Cohen", "Moreau", "Santos", "Fischer", "Ali", "Jensen", "Reyes", "Walsh",
)

LIST_PRICE = np.array([p.list_price for p in PRODUCTS])
LINE_OF_PRODUCT = np.array([i for p in range(len(PRODUCTS)) for i, line in enumerate(PRODUCT_LINES)
                            if p in line.products])
SEAT_LINES = tuple(i for i, line in enumerate(PRODUCT_LINES) if PRODUCTS[line.products[0]].unit == "seat")
EXPANSION, RENEWAL, NEW_LOGO = range(3)
OPEN, WON, LOST = range(3)
