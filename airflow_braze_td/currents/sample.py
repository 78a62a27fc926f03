"""Write a realistic Braze Currents storage export (Avro files, current key layout) for demos, tests and benches.

Real exports cannot be shared and Braze's samples hold one placeholder record per type, but the pipeline
must be exercised on what makes production hard: dozens of event types at very different volumes, several
files per type and queue hour, events queued days late, users without an external id, and at-least-once
duplicates. Records are dicts joined from value pools built once per run (users, message contexts, event
times) and encoded by fastavro; every draw comes from one seeded generator, so the same arguments give the
same bytes.
"""

from __future__ import annotations

import io
import json
import math
import random
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import accumulate, repeat
from typing import Any

import fastavro
import fsspec
import pendulum

from airflow_braze_td.currents import catalog
from airflow_braze_td.currents.layout import staged_key

CODECS = ("null", "deflate", "snappy", "zstandard")
FILE_WINDOW_SECONDS = 300  # Braze closes a file every 5 minutes ...
FILE_MAX_EVENTS = 15_000  # ... or at 15,000 events, whichever comes first.
PARTITIONS = 3
NO_EXTERNAL_ID_SHARE = 0.10
DUPLICATE_SHARE = 0.01
LATE_SHARE = 0.02  # of all events; they come from SDKs that queued them offline
LATE_MAX_SECONDS = 3 * 86_400

_WINDOWS_PER_HOUR = 3600 // FILE_WINDOW_SECONDS
_TIME_POOL_SIZE = 1 << 16
_CONTEXTS_PER_TYPE = 512
_BLOCK_BYTES = 64_000  # the Java Avro writer's default sync interval
_CAMPAIGNS, _CANVASES = 40, 16

# Relative volumes in a typical workspace. Catalog types not listed get `_RARE_WEIGHT`.
_WEIGHTS: dict[str, float] = {
    "users.messages.email.Send": 130,
    "users.messages.email.Delivery": 125,
    "users.messages.pushnotification.Send": 120,
    "users.messages.email.Open": 95,
    "users.behaviors.app.SessionStart": 80,
    "users.behaviors.app.SessionEnd": 74,
    "users.behaviors.CustomEvent": 70,
    "users.messages.inappmessage.Impression": 30,
    "users.messages.email.Click": 22,
    "users.messages.pushnotification.Open": 20,
    "users.messages.contentcard.Impression": 20,
    "users.canvasstep.Progression": 20,
    "users.profile.Update": 18,
    "users.messages.contentcard.Send": 15,
    "users.canvas.Entry": 14,
    "users.messages.sms.Send": 14,
    "users.messages.sms.CarrierSend": 13,
    "users.messages.sms.Delivery": 12.5,
    "users.behaviors.Purchase": 10,
    "users.messages.webhook.Send": 10,
    "users.messages.banner.Impression": 8,
    "users.behaviors.Location": 6,
    "users.behaviors.pushnotification.TokenStateChange": 6,
    "users.messages.featureflag.Impression": 5,
    "users.campaigns.Conversion": 5,
    "users.messages.pushnotification.IosForeground": 4,
    "users.messages.inappmessage.Click": 4,
    "users.canvas.Conversion": 4,
    "users.messages.whatsapp.Send": 4,
    "users.messages.whatsapp.Delivery": 3.8,
    "users.messages.email.SoftBounce": 3,
    "users.messages.email.Deferral": 3,
    "users.messages.pushnotification.Bounce": 3,
    "users.messages.contentcard.Click": 3,
    "users.campaigns.EnrollInControl": 3,
    "users.behaviors.subscriptiongroup.StateChange": 3,
    "users.messages.whatsapp.Read": 3,
    "users.messages.email.Bounce": 2.5,
    "users.messages.email.Abort": 2,
    "users.messages.pushnotification.Abort": 2,
    "users.messages.contentcard.Dismiss": 2,
    "users.behaviors.app.FirstSession": 2,
    "users.behaviors.subscription.GlobalStateChange": 1.5,
    "users.behaviors.Uninstall": 1.5,
    "users.messages.email.Unsubscribe": 1,
    "users.messages.inappmessage.Abort": 1,
    "users.messages.sms.ShortLinkClick": 1,
    "users.behaviors.InstallAttribution": 1,
    "users.canvas.exit.MatchedAudience": 1,
    "users.canvas.exit.PerformedEvent": 1,
    "users.canvas.experimentstep.SplitEntry": 1,
    "agentconsole.ToolInvocation": 0.8,
    "agentconsole.AgentExecuted": 0.5,
    "users.messages.contentcard.Abort": 0.5,
    "users.messages.sms.InboundReceive": 0.5,
    "users.messages.rcs.Send": 0.5,
    "users.messages.rcs.Delivery": 0.45,
    "users.canvas.costep.Send": 0.5,
    "users.messages.banner.Click": 0.4,
}
_RARE_WEIGHT = 0.1

# Types an SDK reports: only these are queued late, as a device that was offline delivers them.
_SDK_PREFIXES = (
    "users.behaviors.CustomEvent", "users.behaviors.Purchase", "users.behaviors.Location", "users.behaviors.app.",
    "users.behaviors.liveactivity.", "users.behaviors.pushnotification.", "users.messages.inappmessage.Click",
    "users.messages.inappmessage.Impression", "users.messages.contentcard.Click",
    "users.messages.contentcard.Dismiss", "users.messages.contentcard.Impression", "users.messages.banner.Click",
    "users.messages.banner.Dismiss", "users.messages.banner.Impression", "users.messages.featureflag.",
    "users.messages.pushnotification.Open", "users.messages.pushnotification.IosForeground",
)

_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def _uuids(rng: random.Random, n: int) -> list[str]:
    """`n` version-4 UUID strings from a single draw of bytes: fast, and fixed by the seed."""
    h = rng.randbytes(16 * n).hex()
    return [
        f"{h[k:k + 8]}-{h[k + 8:k + 12]}-4{h[k + 13:k + 16]}-{_VARIANT[h[k + 16]]}{h[k + 17:k + 20]}-{h[k + 20:k + 32]}"
        for k in range(0, 32 * n, 32)
    ]


def _bson_id(rng: random.Random) -> str:
    """A Mongo ObjectId as Braze prints user and dispatch ids: creation second, then random bytes."""
    return f"{rng.randrange(1_550_000_000, 1_750_000_000):08x}{rng.getrandbits(64):016x}"


def _split(total: int, weights: list[float], rng: random.Random) -> list[int]:
    """Divide `total` in proportion to `weights`, rounding at random so that small shares still occur."""
    scale = total / sum(weights)
    exact = [w * scale for w in weights]
    counts = [int(x) for x in exact]
    rest = total - sum(counts)
    if rest:
        for i in rng.choices(range(len(weights)), weights=[x - c for x, c in zip(exact, counts)], k=rest):
            counts[i] += 1
    return counts


# --- The population: users, apps, campaigns and canvases shared by all event types -------------------------

_LOCALES = (  # country, language, timezone, city, latitude, longitude, phone prefix, weight
    ("US", "en", "America/New_York", "New York", 40.71, -74.01, "+1212", 18),
    ("US", "en", "America/Chicago", "Chicago", 41.88, -87.63, "+1312", 9),
    ("US", "en", "America/Los_Angeles", "Los Angeles", 34.05, -118.24, "+1213", 12),
    ("CA", "en", "America/Toronto", "Toronto", 43.65, -79.38, "+1416", 4),
    ("GB", "en", "Europe/London", "London", 51.51, -0.13, "+4477", 8),
    ("DE", "de", "Europe/Berlin", "Berlin", 52.52, 13.40, "+4915", 6),
    ("FR", "fr", "Europe/Paris", "Paris", 48.86, 2.35, "+336", 5),
    ("BR", "pt", "America/Sao_Paulo", "São Paulo", -23.55, -46.63, "+5511", 5),
    ("MX", "es", "America/Mexico_City", "Mexico City", 19.43, -99.13, "+5255", 4),
    ("JP", "ja", "Asia/Tokyo", "Tokyo", 35.68, 139.69, "+8190", 6),
    ("IN", "en", "Asia/Kolkata", "Mumbai", 19.08, 72.88, "+9198", 5),
    ("AU", "en", "Australia/Sydney", "Sydney", -33.87, 151.21, "+614", 3),
)
_PLATFORMS = {  # device models, OS versions, SDK versions, browser, device class, device OS, resolution
    "ios": (("iPhone14,5", "iPhone15,2", "iPhone16,1", "iPhone16,2", "iPhone17,3"), ("17.6.1", "18.3.2", "18.5"),
            ("11.3.0", "12.0.0"), "Mobile Safari", "mobile", "iOS", "1179x2556"),
    "android": (("Pixel 8", "Pixel 9", "SM-S918B", "SM-A546B", "moto g54"), ("13", "14", "15"),
                ("35.0.0", "36.0.0"), "Chrome Mobile", "mobile", "Android", "1080x2400"),
    "web": ((None,), ("Windows 10", "Mac OS X 10.15.7"), ("5.8.1", "5.9.0"), "Chrome", "desktop", "Windows",
            "1920x1080"),
}
_USER_AGENTS = {
    "ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148",
    "android": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 "
    "Mobile Safari/537.36",
    "web": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 "
    "Safari/537.36",
}
_MAILBOXES = (("gmail.com", "Gmail", 45), ("yahoo.com", "Yahoo", 12), ("outlook.com", "Microsoft", 14),
              ("icloud.com", "Apple", 12), ("proton.me", "Proton", 2), ("example-corp.com", "Other", 15))
_FIRST_NAMES = ("Ava", "Liam", "Mia", "Noah", "Emma", "Lucas", "Sofia", "Hugo", "Yuki", "Aarav", "Chloe", "Mateo",
                "Hannah", "Leon", "Isabela", "Ethan", "Olivia", "Kenji", "Priya", "Jack")
_LAST_NAMES = ("Smith", "Garcia", "Müller", "Martin", "Tanaka", "Patel", "Brown", "Silva", "Dubois", "Johnson",
               "Rossi", "Kim", "Lopez", "Wilson", "Schmidt", "Sato", "Sparrow", "Nguyen")
_CARRIERS = ("T-Mobile", "Verizon", "AT&T", "Vodafone", "O2", "Orange", "Telcel", "NTT DOCOMO", "Jio", None)


class _World:
    """One workspace: users with coherent attributes, its apps, campaigns and canvases.

    Every event type draws users from here, so a user keeps its ids, device and locale across types, as in
    a real export. Every user dict has the same keys: a type's fields among them are taken from the user.
    """

    def __init__(self, rng: random.Random, users: int) -> None:
        self.app_group_id = _uuids(rng, 1)[0]
        self.app_ids = dict(zip(_PLATFORMS, _uuids(rng, len(_PLATFORMS))))
        self.subscription_groups = _uuids(rng, 4)
        self.campaigns = [self._campaign(rng, i) for i in range(_CAMPAIGNS)]
        self.canvases = [self._canvas(rng, i) for i in range(_CANVASES)]
        # Users differ in activity; those without an external id are spread evenly over the activity ranks,
        # so that their share of *events*, not only of users, is NO_EXTERNAL_ID_SHARE.
        activity = sorted(rng.lognormvariate(0.0, 0.8) for _ in range(users))
        phase = rng.random()
        anonymous = [
            math.floor((i + 1) * NO_EXTERNAL_ID_SHARE + phase) > math.floor(i * NO_EXTERNAL_ID_SHARE + phase)
            for i in range(users)
        ]
        order = list(range(users))
        rng.shuffle(order)
        self.users = [self._user(rng, anonymous[i]) for i in order]
        self.cum_activity = list(accumulate(activity[i] for i in order))

    @staticmethod
    def _campaign(rng: random.Random, i: int) -> dict:
        theme = rng.choice(("Spring Sale", "Welcome Series", "Cart Reminder", "Win-back", "Weekly Digest",
                            "Price Drop", "Loyalty Tier Up", "App Update", "Flash Deal", "Order Shipped"))
        variations = [(vid, f"Variant {chr(65 + k)}") for k, vid in enumerate(_uuids(rng, rng.randint(1, 3)))]
        return {"id": _uuids(rng, 1)[0], "name": f"{theme} {2024 + i % 2}-{i:02d}", "variations": variations,
                "dispatches": [_bson_id(rng) for _ in range(4)]}

    @staticmethod
    def _canvas(rng: random.Random, i: int) -> dict:
        theme = rng.choice(("Onboarding", "Abandoned Cart", "Re-engagement", "Birthday", "Post-purchase",
                            "Subscription Renewal", "Browse Abandonment", "VIP Journey"))
        variations = [(vid, f"Variant {k + 1}") for k, vid in enumerate(_uuids(rng, rng.randint(1, 2)))]
        steps = [(sid, f"Step {k + 1}: {rng.choice(('Email', 'Push', 'Delay', 'Decision Split', 'SMS'))}", mvid)
                 for k, (sid, mvid) in enumerate(zip(_uuids(rng, 6), _uuids(rng, 6)))]
        return {"id": _uuids(rng, 1)[0], "name": f"{theme} Canvas {i:02d}", "variations": variations,
                "steps": steps, "dispatches": [_bson_id(rng) for _ in range(4)]}

    def _user(self, rng: random.Random, anonymous: bool) -> dict:
        country, language, tz, city, _, _, prefix, _ = rng.choices(_LOCALES, [x[-1] for x in _LOCALES])[0]
        platform = rng.choices(tuple(_PLATFORMS), (45, 40, 15))[0]
        models, os_versions, sdks, browser, device_class, device_os, resolution = _PLATFORMS[platform]
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        domain, mailbox, _ = rng.choices(_MAILBOXES, [x[-1] for x in _MAILBOXES])[0]
        email = f"{first}.{last}{rng.randrange(1000)}@{domain}".lower().replace("ü", "ue")
        os_version = rng.choice(os_versions)
        if os_version.startswith("Mac"):
            device_os = "Mac OS X"
        phone = f"{prefix}{rng.randrange(10_000_000):07d}"
        device_id = _uuids(rng, 1)[0]
        tracked = platform == "android" or (platform == "ios" and rng.random() < 0.25)
        return {
            "user_id": _bson_id(rng),
            "external_user_id": None if anonymous else f"cust_{rng.getrandbits(40):010x}",
            "device_id": device_id.upper() if platform == "ios" else device_id,
            "push_token_device_id": device_id,
            "timezone": tz if rng.random() < 0.95 else None,
            "email_address": email,
            "channel_identifier": email,
            "recipient_domain": domain,
            "mailbox_provider": mailbox,
            "phone_number": phone,
            "to_phone_number": phone,
            "user_phone_number": phone,
            "platform": platform,
            "os_version": os_version,
            "device_model": rng.choice(models),
            "sdk_version": rng.choice(sdks),
            "browser": browser,
            "device_class": device_class if rng.random() < 0.8 else "desktop",
            "device_os": device_os,
            "resolution": resolution,
            "carrier": rng.choice(_CARRIERS) if platform != "web" else None,
            "user_agent": _USER_AGENTS[platform],
            "app_id": self.app_ids[platform],
            "app_group_id": self.app_group_id,
            "ad_id": _uuids(rng, 1)[0] if tracked else None,
            "ad_id_type": {"ios": "ios_idfa", "android": "google_ad_id"}.get(platform) if tracked else None,
            "ad_tracking_enabled": tracked if platform != "web" else None,
            "push_token": rng.randbytes(32).hex() if platform == "ios"
            else f"{rng.randbytes(11).hex()}:APA91b{rng.randbytes(60).hex()}",
            "gender": rng.choices(("M", "F", "O", "N", "P", None), (30, 32, 2, 2, 2, 32))[0],
            "country": country,
            "language": language,
            "home_city": city if rng.random() < 0.6 else None,
            "first_name": first,
            "last_name": last,
            "dob": f"{rng.randint(1955, 2007)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T00:00:00.000+00:00"
            if rng.random() < 0.4 else None,
            "locale_key": f"{language}-{country.lower()}",
            "native_line_id": f"U{rng.randbytes(16).hex()}",
            "bsuid": f"{country}.{rng.getrandbits(60)}",
        }

    def source(self, rng: random.Random, kind: str) -> dict:
        """Campaign or canvas fields of one message, with the other side's fields null."""
        empty = dict.fromkeys(_SOURCE_FIELDS)
        if kind == "campaign":
            c = rng.choice(self.campaigns)
            vid, vname = rng.choice(c["variations"])
            return {**empty, "campaign_id": c["id"], "campaign_name": c["name"], "message_variation_id": vid,
                    "message_variation_name": vname, "dispatch_id": rng.choice(c["dispatches"])}
        c = rng.choice(self.canvases)
        vid, vname = rng.choice(c["variations"])
        step = rng.randrange(len(c["steps"]))
        sid, sname, mvid = c["steps"][step]
        return {**empty, "canvas_id": c["id"], "canvas_name": c["name"], "canvas_variation_id": vid,
                "canvas_variation_name": vname, "canvas_step_id": sid, "canvas_step_name": sname,
                "canvas_step_message_variation_id": mvid, "dispatch_id": rng.choice(c["dispatches"]),
                "next_step_id": c["steps"][(step + 1) % len(c["steps"])][0]}


_SOURCE_FIELDS = (
    "campaign_id", "campaign_name", "message_variation_id", "message_variation_name", "canvas_id", "canvas_name",
    "canvas_variation_id", "canvas_variation_name", "canvas_step_id", "canvas_step_name",
    "canvas_step_message_variation_id", "dispatch_id", "next_step_id",
)


# --- Values of message and event fields, drawn once per context (see `_EventType`) ----------------------------

_ValueGenerator = Callable[[random.Random, dict], Any]


def _one_of(*values: Any, weights: tuple[float, ...] | None = None) -> _ValueGenerator:
    return lambda rng, ctx: rng.choices(values, weights)[0]


def _sometimes(share: float, generator: _ValueGenerator) -> _ValueGenerator:
    """`generator`'s value for `share` of contexts, else null: optional fields are often empty."""
    return lambda rng, ctx: generator(rng, ctx) if rng.random() < share else None


def _null(rng: random.Random, ctx: dict) -> None:
    return None


def _uuid(rng: random.Random, ctx: dict) -> str:
    return _uuids(rng, 1)[0]


def _bson(rng: random.Random, ctx: dict) -> str:
    return _bson_id(rng)


def _hex(n: int) -> _ValueGenerator:
    return lambda rng, ctx: rng.randbytes(n).hex()


def _int(low: int, high: int) -> _ValueGenerator:
    return lambda rng, ctx: rng.randint(low, high)


def _chance(share: float) -> _ValueGenerator:
    return lambda rng, ctx: rng.random() < share


def _make_products() -> tuple[tuple[str, str, float], ...]:
    """A fixed catalogue of products (the same for every seed, like a shop's assortment)."""
    rng = random.Random(20_240_101)
    categories = ("shoes", "outerwear", "accessories", "electronics", "home", "beauty")
    return tuple(
        (f"SKU-{10_000 + 37 * i}", rng.choice(categories), math.floor(rng.lognormvariate(3.5, 0.8)) + 0.99)
        for i in range(80)
    )


_PRODUCTS = _make_products()
_CURRENCIES = (("USD", 1.0, 70), ("EUR", 0.92, 15), ("GBP", 0.79, 8), ("JPY", 155.0, 7))
_PAGES = ("/", "/sale", "/new-arrivals", "/cart", "/account/rewards", "/p/running-shoe-x2", "/blog/spring-lookbook")


def _viewed_product(rng: random.Random) -> dict:
    product_id, category, price = rng.choice(_PRODUCTS)
    return {"product_id": product_id, "category": category, "price": price}


def _added_to_cart(rng: random.Random) -> dict:
    product_id, _, price = rng.choice(_PRODUCTS)
    quantity = rng.randint(1, 3)
    return {"product_id": product_id, "quantity": quantity, "price": price,
            "cart_value": round(price * quantity + rng.uniform(0, 120), 2)}


def _search(rng: random.Random) -> dict:
    query = rng.choice(("running shoes", "rain jacket", "wireless earbuds", "gift", "sale", "linen shirt"))
    return {"query": query, "results": rng.randint(0, 240)}


def _page_view(rng: random.Random) -> dict:
    return {"path": rng.choice(_PAGES), "referrer": rng.choice(("direct", "email", "push", "organic", "paid_social"))}


def _checkout_started(rng: random.Random) -> dict:
    return {"items": rng.randint(1, 6), "cart_value": round(rng.uniform(15, 400), 2),
            "coupon_applied": rng.random() < 0.2}


def _video_watched(rng: random.Random) -> dict:
    return {"video_id": f"vid_{rng.randint(100, 999)}", "seconds": rng.randint(3, 600), "completed": rng.random() < 0.3}


def _signed_up(rng: random.Random) -> dict:
    return {"method": rng.choice(("email", "google", "apple")), "referral": rng.random() < 0.1}


def _order_status_checked(rng: random.Random) -> dict:
    return {"order_id": f"ORD-{rng.randint(100_000, 999_999)}",
            "status": rng.choice(("processing", "shipped", "delivered"))}


# Custom event names with their weight and the builder of their properties.
_CUSTOM_EVENTS: tuple[tuple[str, float, Callable[[random.Random], dict]], ...] = (
    ("viewed_product", 30, _viewed_product),
    ("page_view", 20, _page_view),
    ("added_to_cart", 14, _added_to_cart),
    ("search", 12, _search),
    ("checkout_started", 5, _checkout_started),
    ("video_watched", 4, _video_watched),
    ("wishlist_added", 4, lambda rng: {"product_id": rng.choice(_PRODUCTS)[0]}),
    ("order_status_checked", 3, _order_status_checked),
    ("signed_up", 2, _signed_up),
    ("app_rating_prompt", 1, lambda rng: {"rating": rng.randint(1, 5), "source": "in_app_prompt"}),
)


def _custom_event_name(rng: random.Random, ctx: dict) -> str:
    name, _, build = rng.choices(_CUSTOM_EVENTS, [e[1] for e in _CUSTOM_EVENTS])[0]
    ctx["_properties"] = build(rng)
    return name


def _properties(rng: random.Random, ctx: dict) -> str:
    """CustomEvent and Purchase `properties`: a string holding JSON, as Braze writes it."""
    if "_properties" in ctx:
        return json.dumps(ctx["_properties"])
    return json.dumps({"quantity": rng.choices((1, 2, 3), (80, 15, 5))[0], "category": ctx.get("_category", "home"),
                       "payment_method": rng.choice(("card", "apple_pay", "paypal", "google_pay")),
                       "coupon": rng.choice((None, None, None, "SPRING25", "WELCOME10"))})


def _product_id(rng: random.Random, ctx: dict) -> str:
    product_id, category, price = rng.choice(_PRODUCTS)
    currency, rate, _ = rng.choices(_CURRENCIES, [c[-1] for c in _CURRENCIES])[0]
    ctx.update(_category=category, _currency=currency, _price=round(price * rate, 0 if currency == "JPY" else 2))
    return product_id


def _price(rng: random.Random, ctx: dict) -> float:
    return ctx["_price"] if "_price" in ctx else round(rng.uniform(1, 200), 2)


def _currency(rng: random.Random, ctx: dict) -> str:
    return ctx.get("_currency", "USD")


def _latitude(rng: random.Random, ctx: dict) -> float:
    locale = rng.choices(_LOCALES, [x[-1] for x in _LOCALES])[0]
    ctx["_longitude"] = round(locale[5] + rng.gauss(0, 0.08), 5)
    return round(locale[4] + rng.gauss(0, 0.08), 5)


def _longitude(rng: random.Random, ctx: dict) -> float:
    return ctx.get("_longitude", round(rng.uniform(-180, 180), 5))


def _bot_reason(rng: random.Random, ctx: dict) -> list[str] | None:
    if not ctx.get("is_suspected_bot_click"):
        return None
    return rng.choice((["user_agent"], ["ip_address"], ["click_speed", "ip_address"]))


def _model_name(rng: random.Random, ctx: dict) -> str:
    return rng.choice({"openai": ("gpt-4o", "gpt-4.1-mini"), "anthropic": ("claude-sonnet-4", "claude-haiku-4"),
                       "google": ("gemini-2.5-flash",)}.get(ctx.get("model_provider"), ("gpt-4o",)))


_AGENTS = (("66f2a1c09b3e4d0012a4c001", "Product Recommender"), ("66f2a1c09b3e4d0012a4c002", "Copy Writer"),
           ("66f2a1c09b3e4d0012a4c003", "Support Triage"), ("66f2a1c09b3e4d0012a4c004", "Churn Risk Scorer"))


def _agent_id(rng: random.Random, ctx: dict) -> str:
    agent_id, ctx["_agent_name"] = rng.choice(_AGENTS)
    return agent_id


def _agent_name(rng: random.Random, ctx: dict) -> str:
    return ctx.get("_agent_name") or rng.choice(_AGENTS)[1]


def _error(rng: random.Random, ctx: dict) -> str | None:
    """An agent's error only when it failed; a carrier's error text on SMS and RCS failures."""
    if "is_error" in ctx:
        return rng.choice(("Timeout after 30s", "Rate limited by provider")) if ctx["is_error"] else None
    return rng.choice(("Undeliverable", "Blocked by carrier", "Unknown destination handset"))


_EMAIL_URLS = tuple(f"https://www.example-shop.com{p}?utm_source=braze&utm_medium=email" for p in _PAGES)
_ABORT_TYPES = ("liquid_abort_message", "rate_limit", "quiet_hours", "user_not_subscribed", "frequency_capped")
_SMTP_BOUNCES = (
    "550 5.1.1 The email account that you tried to reach does not exist",
    "552 5.2.2 The recipient's mailbox is full", "554 5.7.1 Message rejected under policy",
    "550 5.4.1 Recipient address rejected: Access denied",
)
_SMTP_DEFERRALS = (
    "421 4.7.0 Try again later, closing connection", "451 4.7.1 Greylisted, please try again later",
    "421 4.4.0 [internal] no mail servers for this domain could be reached at this time",
)

_GENERATORS: dict[str, _ValueGenerator] = {
    # Messages in general
    "send_id": _sometimes(0.15, lambda rng, ctx: f"api_send_{rng.randbytes(6).hex()}"),
    "message_extras": _sometimes(0.3, lambda rng, ctx: json.dumps({"coupon": rng.choice(("SPRING25", "WELCOME10")),
                                                                   "tier": rng.choice(("gold", "silver"))})),
    "abort_type": _one_of(*_ABORT_TYPES),
    "abort_log": lambda rng, ctx: f"Message aborted: {ctx.get('abort_type') or 'liquid_abort_message'}",
    "retry_type": _one_of("rate_limited", "provider_error", "timeout"),
    "retry_log": lambda rng, ctx: f"Retrying after {ctx.get('retry_type') or 'provider_error'}",
    "subscription_group_id": lambda rng, ctx: rng.choice(ctx["_world"].subscription_groups),
    "app_group_api_id": _null, "canvas_api_id": _null, "canvas_variation_api_id": _null, "canvas_step_api_id": _null,
    "url": _one_of(*_EMAIL_URLS),
    "short_url": lambda rng, ctx: f"https://brz.ai/{rng.randbytes(4).hex()}",
    "is_suspected_bot_click": _chance(0.04),
    "suspected_bot_click_reason": _bot_reason,
    "error": _error,
    "provider_error_code": _one_of("30003", "30005", "30006", "30007", "131026", "131047"),
    "provider_error_title": _one_of("Message undeliverable", "Re-engagement message", "Receiver is incapable"),
    "is_sms_fallback": _chance(0.02),
    # Email
    "ip_pool": _one_of("default", "marketing", "transactional", weights=(2, 6, 2)),
    "sending_ip": lambda rng, ctx: f"149.72.{rng.randrange(256)}.{rng.randrange(1, 255)}",
    "esp": _one_of("SendGrid", "SparkPost", "Amazon SES", weights=(6, 3, 1)),
    "from_domain": _one_of("mail.example-shop.com", "news.example-shop.com"),
    "bounce_reason": _one_of(*_SMTP_BOUNCES),
    "deferral_reason": _one_of(*_SMTP_DEFERRALS),
    "attempt_count": _int(1, 5),
    "is_drop": _chance(0.1),
    "is_amp": _chance(0.03),
    "machine_open": _sometimes(0.45, lambda rng, ctx: "true"),
    "link_id": lambda rng, ctx: rng.randbytes(3).hex(),
    "link_alias": _one_of("cta_button", "hero_image", "product_1", "product_2", "footer_unsubscribe", None),
    # Push, in-app, content cards, banners, feature flags
    "button_action_type": _sometimes(0.2, _one_of("uri", "deep_link", "close")),
    "button_string": lambda rng, ctx: rng.choice(("View offer", "Shop now", "Later")) if ctx.get("button_action_type")
    else None,
    "button_id": _sometimes(0.6, _one_of("0", "1")),
    "card_id": _sometimes(0.2, _uuid),
    "version": _one_of("3"),
    "content_card_id": lambda rng, ctx: f"NjY{rng.randbytes(18).hex()}",
    "banner_placement_id": _one_of("homepage_hero", "cart_upsell", "account_banner"),
    "feature_flag_id_name": _one_of("new_checkout", "dark_mode", "loyalty_v2", "one_click_reorder"),
    # SMS, WhatsApp, LINE, RCS
    "from_phone_number": _one_of("+14155550100", "+14155550123", "+442071838750"),
    "inbound_phone_number": _one_of("+14155550100", "+14155550123"),
    "category": _sometimes(0.05, _one_of("opt-in", "opt-out", "help")),
    "action": _one_of("None", "Subscribed", "Unsubscribed", weights=(85, 5, 10)),
    "message_body": _one_of("STOP", "YES", "HELP", "Thanks!", "When does my order arrive?", "1"),
    "media_urls": _sometimes(0.05, lambda rng, ctx: [f"https://media.example-mms.com/{rng.randbytes(6).hex()}.jpg"]),
    "quick_reply_text": _sometimes(0.3, _one_of("Yes", "No", "Talk to an agent")),
    "template_name": _one_of("order_update_v2", "fall_promo_code_FALLFLIER", "cart_reminder", None),
    "message_id": lambda rng, ctx: f"wamid.HBgL{rng.randbytes(24).hex().upper()}",
    "in_reply_to": _sometimes(0.5, lambda rng, ctx: f"wamid.HBgL{rng.randbytes(24).hex().upper()}"),
    "flow_id": _sometimes(0.1, lambda rng, ctx: str(rng.randrange(10**15, 10**16))),
    "flow_response_json": _sometimes(0.1, lambda rng, ctx: json.dumps({"size": rng.choice(("S", "M", "L"))})),
    "catalog_id": _null,
    "line_channel_id": _one_of("1657012345"),
    "line_channel_name": _one_of("Example Shop"),
    "media_id": _null,
    "from_rcs_sender": _one_of("example_shop_agent"),
    "to_rcs_sender": _one_of("example_shop_agent"),
    "interaction_type": _one_of("url", "reply", "dial"),
    "element_label": _one_of("Shop now", "Track order", "Call us"),
    "element_type": _one_of("suggested_action", "suggested_reply"),
    # Webhooks
    "http_status_code": _one_of(500, 502, 503, 429, 404, 408),
    "endpoint_url": _one_of("https://hooks.example-shop.com/braze/loyalty", "https://api.example-crm.com/v2/events"),
    "host": _one_of("hooks.example-shop.com", "api.example-crm.com"),
    "url_path": _one_of("/braze/loyalty", "/v2/events"),
    "content_length": _int(0, 512),
    "raw_response": _one_of('{"error":"upstream timeout"}', "Service Unavailable", '{"error":"rate limited"}'),
    "retry_count": _int(0, 6),
    "webhook_duration": _int(80, 30_000),
    "webhook_failure_source": _one_of("http_status", "timeout", "connection"),
    "is_terminal": _chance(0.2),
    # Live activities and push tokens
    "activity_id": _uuid,
    "activity_attributes_type": _one_of("DeliveryTrackerAttributes", "SportsScoreAttributes"),
    "push_to_start_token": _hex(32),
    "update_token": _hex(32),
    "live_activity_event_type": _one_of("start", "update", "end", weights=(2, 7, 1)),
    "live_activity_event_outcome": _one_of("Success", "Failure", weights=(97, 3)),
    "ios_push_token_apns_gateway": _sometimes(0.5, _one_of(1, 2)),
    "push_token_state_change_type": _one_of("add", "update", "remove", weights=(5, 3, 2)),
    "push_token_created_at": _int(1_600_000_000, 1_740_000_000),
    "push_token_updated_at": _int(1_740_000_000, 1_750_000_000),
    "web_push_token_user_auth": _null,
    "web_push_token_public_key": _null,
    "web_push_token_vapid_public_key": _null,
    "push_token_provisionally_opted_in": _chance(0.05),
    "push_token_foreground_push_disabled": _chance(0.01),
    # Subscriptions, campaigns and canvases
    "state_change_source": _one_of("REST API", "SDK", "Dashboard", "Subscription Center", "CSV Import"),
    "subscription_status": _one_of("Subscribed", "Unsubscribed", weights=(7, 3)),
    "channel": _one_of("email", "sms", "whatsapp", "push", weights=(6, 2, 1, 1)),
    "conversion_behavior_index": _int(0, 2),
    "conversion_behavior": lambda rng, ctx: json.dumps({"type": "performed_custom_event",
                                                        "custom_event_name": rng.choice(_CUSTOM_EVENTS)[0]}),
    "in_control_group": _chance(0.1),
    "progression_type": _one_of("entered_step", "advanced", "exited", weights=(5, 4, 1)),
    "is_canvas_entry": _chance(0.15),
    "exit_reason": _sometimes(0.05, _one_of("matched_audience", "performed_event")),
    "canvas_entry_id": _uuid,
    "experiment_step_id": _uuid,
    "experiment_split_id": _uuid,
    "experiment_split_name": _one_of("Path 1", "Path 2", "Control"),
    "content_optimizer_step_id": _bson,
    "combination_token": lambda rng, ctx: f"{rng.randrange(3)}_{rng.randrange(2)}_{rng.randrange(2)}",
    # Behaviours and profiles
    "name": _custom_event_name,
    "properties": _properties,
    "product_id": _product_id,
    "price": _price,
    "currency": _currency,
    "latitude": _latitude,
    "longitude": _longitude,
    "altitude": _sometimes(0.3, lambda rng, ctx: round(rng.uniform(0, 400), 1)),
    "ll_accuracy": lambda rng, ctx: round(rng.uniform(3, 65), 1),
    "alt_accuracy": _sometimes(0.3, lambda rng, ctx: round(rng.uniform(3, 30), 1)),
    "duration": lambda rng, ctx: round(rng.lognormvariate(4.5, 1.1), 3),  # session seconds
    "source": _one_of("Organic", "Google Ads", "Meta Ads", "TikTok Ads", "Apple Search Ads", weights=(5, 2, 2, 1, 1)),
    "random_bucket_number": _int(0, 9_999),
    "prev_random_bucket_number": _sometimes(0.9, _int(0, 9_999)),
    "orphaned_by_id": _bson,
    "update_source": _one_of("REST", "SDK", "CSV", "Dashboard", weights=(5, 4, 1, 1)),
    "archived": _sometimes(0.1, _chance(0.02)),
    "custom_attributes": _sometimes(0.7, lambda rng, ctx: json.dumps({
        "loyalty_tier": rng.choice(("bronze", "silver", "gold")), "lifetime_orders": rng.randint(0, 40),
        "favorite_category": rng.choice(_PRODUCTS)[1]})),
    # BrazeAI agents
    "invocation_id": _uuid,
    "request_id": _uuid,
    "tool_call_id": lambda rng, ctx: f"call_{rng.randbytes(12).hex()}",
    "prompt_tokens": _int(200, 6_000),
    "completion_tokens": _int(20, 1_200),
    "total_tokens": lambda rng, ctx: ctx.get("prompt_tokens", 0) + ctx.get("completion_tokens", 0),
    "cache_tokens": lambda rng, ctx: rng.choice((0, 0, 0, ctx.get("prompt_tokens", 0) // 2)),
    "reasoning_tokens": lambda rng, ctx: rng.choice((0, 0, rng.randint(50, 800))),
    "agent_id": _agent_id,
    "agent_name": _agent_name,
    "model_provider": _one_of("openai", "anthropic", "google"),
    "model_name": _model_name,
    "provider_request_id": _sometimes(0.9, lambda rng, ctx: f"req_{rng.randbytes(12).hex()}"),
    "cache_hit": _chance(0.2),
    "llm_owned_by_customer": _chance(0.3),
    "is_error": _chance(0.03),
    "input": _one_of("Write a subject line for our spring sale", "Recommend 3 products for this user",
                     "Classify this support message"),
    "output": _one_of("Spring into savings: 25% off ends Sunday", '["SKU-10037", "SKU-10481", "SKU-11295"]',
                      "billing"),
    "invocation_source": _one_of("canvas_agent_step", "catalog_enrichment", "liquid_agent_call"),
    "tool_name": _one_of("lookup_catalog", "get_user_profile", "search_knowledge_base"),
    "tool_arguments": lambda rng, ctx: json.dumps({"query": rng.choice(("shoes", "order status", "refund")),
                                                   "limit": rng.choice((3, 5, 10))}),
}
# Where one name has different meanings: an agent's `duration` is an int of milliseconds.
_GENERATORS_BY_CODE: dict[tuple[str, str], _ValueGenerator] = {("duration", "i"): _int(150, 25_000)}


def _fallback(field: catalog.Field, rng: random.Random) -> Any:
    """A plain value of the field's type, for fields no generator knows (new catalog fields keep working)."""
    base = field.code.rstrip("?")
    if base.startswith("["):
        return [f"{field.name}_1"]
    if base in ("i", "l"):
        return rng.randrange(1_000)
    if base == "f":
        return round(rng.uniform(0, 100), 2)
    if base == "b":
        return rng.random() < 0.5
    return f"{field.name}_{rng.randrange(1, 100)}"


def _message_kinds(fields: tuple[catalog.Field, ...]) -> tuple[str, ...]:
    """Whether the type's events come from campaigns, canvases, either, or no message at all."""
    by_name = {f.name: f for f in fields}
    for kind, name in (("campaign", "campaign_id"), ("canvas", "canvas_id"), ("canvas", "canvas_variation_id")):
        if name in by_name and not by_name[name].nullable:
            return (kind,)
    kinds = ("campaign",) if "campaign_id" in by_name else ()
    if "canvas_id" in by_name or "canvas_variation_id" in by_name:
        kinds += ("canvas",)
    return kinds


def _time_pool(rng: random.Random, late_share: float) -> list[int]:
    """Event-time offsets from the start of a file's 5-minute window, doubled so any slice fits.

    An event is queued within the window a short delay after it happened; `late_share` of them were held
    by an offline device for two hours up to three days, so they land well before their queue hour.
    """
    pool = []
    for _ in range(_TIME_POOL_SIZE):
        if rng.random() < late_share:
            delay = math.exp(rng.uniform(math.log(7_200), math.log(LATE_MAX_SECONDS)))
        else:
            delay = min(rng.expovariate(1 / 20), 900.0)
        pool.append(math.floor(rng.random() * FILE_WINDOW_SECONDS - delay))
    return pool + pool


# Fields drawn for every event rather than taken from a pool.
_EVENT_FIELDS = ("id", "time", "time_ms", "session_id")

# An event as kept until its file is written: (id, time, time_ms, session_id, user, context), the last two
# shared dicts from the pools. Keeping events, not records, lets a duplicate replay its original exactly.
_Event = tuple[str, int, int | None, str | None, dict, dict]


class _EventType:
    """One event type: its parsed schema, its pool of message contexts, its partitions' state and counts."""

    def __init__(self, event_type: str, world: _World, rng: random.Random, times: list[int], volume: int) -> None:
        fields = catalog.fields(event_type)
        names = {f.name for f in fields}
        self.name = event_type
        self.schema = fastavro.parse_schema(catalog.avro_schema(event_type))
        self.world = world
        self.times = times
        self.always_anonymous = "external_user_id" not in names
        self.has_millis = "time_ms" in names
        self.has_session = "session_id" in names
        user_fields = world.users[0].keys()
        context_fields = [f for f in fields if f.name not in user_fields and f.name not in _EVENT_FIELDS]
        kinds = _message_kinds(fields)
        self.contexts = [
            self._context(context_fields, rng, rng.choice(kinds) if kinds else None)
            for _ in range(max(16, min(_CONTEXTS_PER_TYPE, volume // 20)))
        ]
        self.offsets = [rng.randrange(1_000, 40_000_000) for _ in range(PARTITIONS)]
        self.recent: list[list[_Event]] = [[] for _ in range(PARTITIONS)]
        self.owed = rng.random()  # copies owed to at-least-once delivery; a random start keeps small types fair
        self.unique = self.duplicates = self.without_external_id = self.written = 0

    def _context(self, fields: list[catalog.Field], rng: random.Random, kind: str | None) -> dict:
        """Message and event fields of one event, consistent with each other (a canvas step's own ids ...)."""
        ctx: dict = {"_world": self.world, **(self.world.source(rng, kind) if kind else {})}
        values = {}
        for field in fields:
            if field.name in ctx:
                value = ctx[field.name]
            else:
                generator = _GENERATORS_BY_CODE.get((field.name, field.code)) or _GENERATORS.get(field.name)
                value = generator(rng, ctx) if generator else _fallback(field, rng)
                ctx[field.name] = value
            values[field.name] = _fallback(field, rng) if value is None and not field.nullable else value
        return values

    def _fresh(self, rng: random.Random, n: int, window_start: int) -> list[_Event]:
        """`n` new events queued in the window from `window_start`."""
        ids = _uuids(rng, n)
        start = rng.randrange(_TIME_POOL_SIZE)
        times = [window_start + offset for offset in self.times[start:start + n]]
        users = rng.choices(self.world.users, cum_weights=self.world.cum_activity, k=n)
        contexts = rng.choices(self.contexts, k=n)
        millis = [t * 1000 + int(i[-3:], 16) % 1000 for t, i in zip(times, ids)] if self.has_millis else repeat(None)
        sessions = _uuids(rng, n) if self.has_session else repeat(None)
        self.without_external_id += n if self.always_anonymous else [u["external_user_id"] for u in users].count(None)
        return list(zip(ids, times, millis, sessions, users, contexts))

    def queue_hour(self, rng: random.Random, hour: pendulum.DateTime, n: int) -> Iterator[tuple[str, list[_Event]]]:
        """The files, as (key, events), of `n` new events (and some copies) queued in `hour`."""
        # Volume swings between 5-minute windows (sends are bursty); partitions share a window evenly.
        windows = [rng.lognormvariate(0.0, 0.7) for _ in range(_WINDOWS_PER_HOUR)]
        cell_weights = [w * rng.uniform(0.85, 1.15) for w in windows for _ in range(PARTITIONS)]
        for cell_index, count in enumerate(_split(n, cell_weights, rng)):
            if not count:
                continue
            window, partition = divmod(cell_index, PARTITIONS)
            events = self._cell(rng, count, hour.int_timestamp + window * FILE_WINDOW_SECONDS, partition)
            for i in range(0, len(events), FILE_MAX_EVENTS):
                chunk = events[i:i + FILE_MAX_EVENTS]
                offset = self.offsets[partition]
                self.offsets[partition] += len(chunk)
                self.written += len(chunk)
                yield staged_key(event_type=self.name, queue_hour=hour, partition=partition, offset=offset), chunk

    def _cell(self, rng: random.Random, n: int, window_start: int, partition: int) -> list[_Event]:
        """One partition's window: `n` new events, after the copies at-least-once delivery owes.

        Redelivery is modelled as a replayed run of the partition's previous file, written again ahead of
        the new events, so a duplicate always sits in a later file with a higher offset.
        """
        self.owed += DUPLICATE_SHARE * n
        recent = self.recent[partition]
        k = min(int(self.owed), len(recent))
        copies: list[_Event] = []
        if k:
            first = rng.randrange(len(recent) - k + 1)
            copies = recent[first:first + k]
            self.owed -= k
        fresh: list[_Event] = []
        for done in range(0, n, _TIME_POOL_SIZE):  # one slice of the time pool per draw
            fresh += self._fresh(rng, min(_TIME_POOL_SIZE, n - done), window_start)
        self.recent[partition] = fresh
        self.unique += n
        self.duplicates += k
        return copies + fresh

    def avro_file(self, events: list[_Event], codec: str, sync_marker: bytes) -> bytes:
        """An Avro container file of `events`, in blocks of about `_BLOCK_BYTES` like Braze's Java writer."""
        out = io.BytesIO()
        fastavro.writer(out, self.schema, _records(events), codec, _BLOCK_BYTES, sync_marker=sync_marker)
        return out.getvalue()


def _records(events: list[_Event]) -> Iterator[dict]:
    """The events as fastavro records, each a merge of its shared user and context dicts.

    The whole user goes in, as fastavro reads only its schema's fields: no per-type copy of the users is
    kept, and copying a whole dict is twice as fast as refilling one.
    """
    for event_id, time, millis, session, user, context in events:
        record = user | context
        record["id"] = event_id
        record["time"] = time
        record["time_ms"] = millis
        record["session_id"] = session
        yield record


class _Writes:
    """Files stored by one background thread, so that storage works while the next file is encoded."""

    def __init__(self, fs: fsspec.AbstractFileSystem) -> None:
        self.fs = fs
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.pending: deque[Future] = deque()
        self.dirs: set[str] = set()

    def put(self, path: str, data: bytes) -> None:
        directory = path.rsplit("/", 1)[0]
        if directory not in self.dirs:
            self.fs.makedirs(directory, exist_ok=True)
            self.dirs.add(directory)
        self.pending.append(self.pool.submit(self.fs.pipe_file, path, data))
        if len(self.pending) > 8:  # bounds memory when storage is slower than encoding
            self.pending.popleft().result()

    def __enter__(self) -> _Writes:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            while self.pending:
                self.pending.popleft().result()  # raises a failed write
        finally:
            self.pool.shutdown(cancel_futures=True)


def _chosen_types(event_types: Sequence[str] | None) -> tuple[str, ...]:
    """The catalog's types, or those named, in catalog order so that the order given changes no byte."""
    if event_types is None:
        return catalog.EVENT_TYPES
    names = {event_types} if isinstance(event_types, str) else set(event_types)
    unknown = sorted(names.difference(catalog.EVENT_TYPES))
    if unknown:
        raise ValueError(f"unknown Braze Currents event types: {', '.join(unknown)}")
    if not names:
        raise ValueError("event_types is empty: pass None for every type")
    return tuple(t for t in catalog.EVENT_TYPES if t in names)


def stage_sample(
    dest: str,
    *,
    events: int = 100_000,
    hours: int = 6,
    seed: int = 0,
    codec: str = "null",
    end: pendulum.DateTime | None = None,
    event_types: Sequence[str] | None = None,
) -> dict:
    """Write a Braze Currents storage export of `events` distinct events under `dest` (a path or fsspec URL).

    Queue hours are the `hours` whole UTC hours before `end` (default: now; truncated to the hour). On top
    of the distinct events, about `DUPLICATE_SHARE` of them are written a second time into a later file, as
    Braze's at-least-once delivery does. `event_types` restricts the sample to those catalog types (keeping
    their relative volumes), for small trees with few files; unknown names raise ValueError. The same
    arguments give the same bytes.
    Returns a summary of what was written.
    """
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {CODECS}, got {codec!r}")
    if events < 0 or hours < 1:
        raise ValueError(f"need events >= 0 and hours >= 1, got events={events}, hours={hours}")
    chosen = _chosen_types(event_types)
    last = pendulum.instance(end if end is not None else pendulum.now("UTC")).in_timezone("UTC").start_of("hour")
    queue_hours = [last.subtract(hours=hours - i) for i in range(hours)]
    rng = random.Random(seed)

    weights = {t: _WEIGHTS.get(t, _RARE_WEIGHT) for t in chosen}
    volumes = dict(zip(weights, _split(events, list(weights.values()), rng)))
    sdk_share = sum(w for t, w in weights.items() if t.startswith(_SDK_PREFIXES)) / sum(weights.values())
    time_pools = {True: _time_pool(rng, min(1.0, LATE_SHARE / sdk_share) if sdk_share else 0.0),
                  False: _time_pool(rng, 0.0)}
    world = _World(rng, users=max(2_000, min(25_000, events // 40)))
    diurnal = [1 + 0.4 * math.cos(2 * math.pi * (hour.hour - 16) / 24) for hour in queue_hours]
    plans = {t: _split(n, [d * rng.uniform(0.8, 1.2) for d in diurnal], rng) for t, n in volumes.items() if n}

    fs, root = fsspec.core.url_to_fs(dest)
    root = root.rstrip("/")
    types: dict[str, _EventType] = {}
    files = 0
    with _Writes(fs) as writes:
        for hour_index, hour in enumerate(queue_hours):
            for event_type, plan in plans.items():
                if not plan[hour_index]:
                    continue
                kind = types.get(event_type)
                if kind is None:
                    times = time_pools[event_type.startswith(_SDK_PREFIXES)]
                    kind = types[event_type] = _EventType(event_type, world, rng, times, volumes[event_type])
                for key, chunk in kind.queue_hour(rng, hour, plan[hour_index]):
                    writes.put(f"{root}/{key}", kind.avro_file(chunk, codec, rng.randbytes(16)))
                    files += 1
    kinds = types.values()
    return {
        "files": files,
        "events": sum(kind.written for kind in kinds),
        "unique_ids": sum(kind.unique for kind in kinds),
        "without_external_id": sum(kind.without_external_id for kind in kinds),
        "duplicates": sum(kind.duplicates for kind in kinds),
        "by_event_type": {name: kind.written for name, kind in sorted(types.items())},
        "first_hour": queue_hours[0].isoformat(),
        "last_hour": queue_hours[-1].isoformat(),
    }
