"""Stripe billing history for the demo company, as Stripe API objects of version 2024-06-20.

Each paying tenant gets a `BillingScript` (a "story": steady, upgrade, past_due, lost, reactivation, ...). A
`CustomerSim` plays the script forward in time, period by period, mutating plain dicts shaped exactly like
Stripe's API objects and emitting `event` objects (with a deep copy of `data.object` at that moment). The final
state of every object is what the dump holds; the events hold the history. Nothing happens after the horizon
(the end of the demo's last day), so objects are as Stripe would return them at that instant.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from extract.demo._util import add_months, from_unix, stripe_id, substream, unix, weighted
from extract.warehouse import STRIPE_OBJECT_TABLES

try:  # the project's pinned version, if the Stripe package is importable
    from extract.stripe import STRIPE_API_VERSION
except Exception:  # pragma: no cover
    STRIPE_API_VERSION = "2024-06-20"

Obj = dict[str, Any]
DAY = 86_400

TIERS = ("starter", "growth", "enterprise")
TIER_NAMES = {"starter": "Starter", "growth": "Growth", "enterprise": "Enterprise"}
CURRENCIES = ("usd", "eur", "gbp", "jpy")
# per seat per month, in minor units (JPY has none: 5000 means ¥5,000)
MONTHLY_UNIT = {
    "usd": {"starter": 1500, "growth": 3500, "enterprise": 7500},
    "eur": {"starter": 1400, "growth": 3200, "enterprise": 7000},
    "gbp": {"starter": 1200, "growth": 2800, "enterprise": 6000},
    "jpy": {"starter": 2000, "growth": 5000, "enterprise": 10000},
}
# interval key → (interval, interval_count, multiple of the monthly unit)
INTERVALS = {"month": ("month", 1, 1.0), "quarter": ("month", 3, 2.85), "year": ("year", 1, 10.0)}
TAXED = {"eur": 20.0, "gbp": 20.0}  # VAT, tax-exclusive
CURRENCY_SYMBOL = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}
FAILURES = [
    ("card_declined", "Your card was declined.", 0.5),
    ("insufficient_funds", "Your card has insufficient funds.", 0.3),
    ("expired_card", "Your card has expired.", 0.2),
]
STORIES_NEEDING_RENEWALS = {
    "reactivation",
    "lost_unpaid",
    "lost_void",
    "paused",
    "past_due",
    "coupon_repeating",
    "refund_full",
    "downgrade",
}
# stories handed out first, to the earliest paying tenants (longest stories first), so a default-size demo has all
DECK = [
    "reactivation",
    "lost_unpaid",
    "paused",
    "past_due",
    "lost_void",
    "coupon_repeating",
    "cancel_eop",
    "refund_full",
    "upgrade",
    "downgrade",
    "past_due",
    "refund_partial",
    "cancel_now",
    "seats",
    "coupon_forever",
    "coupon_100",
    "coupon_amount_off",
    "trial_no_convert",
    "trial_convert",
    "upgrade",
    "trial_no_convert",
    "cancel_eop",
]
RANDOM_STORIES = [
    ("steady", 45),
    ("upgrade", 10),
    ("seats", 10),
    ("trial_convert", 10),
    ("cancel_eop", 7),
    ("past_due", 5),
    ("trial_no_convert", 4),
    ("downgrade", 3),
    ("coupon_forever", 3),
    ("cancel_now", 2),
]
COUPON_OF_STORY = {
    "coupon_repeating": "co_LAUNCH20X3",
    "coupon_forever": "co_LOYALTY10",
    "coupon_100": "co_PARTNER100",
    "coupon_amount_off": "co_WELCOME50USD",
}


# --- catalog ----------------------------------------------------------------------------------------------


CATALOG_TYPES = ("products", "plans", "prices", "coupons")  # created once for the company, not per customer


@dataclass
class Catalog:
    products: dict[str, Obj]  # tier → product
    plans: dict[tuple[str, str, str], Obj]  # (tier, currency, interval key) → plan
    prices: dict[tuple[str, str, str], Obj]
    coupons: dict[str, Obj]
    tax_rates: dict[str, str]  # currency → txr_ id


def build_catalog(seed: int, start_ts: int) -> Catalog:
    rng = substream(seed, "stripe", "catalog")
    created = start_ts - 700 * DAY
    products: dict[str, Obj] = {}
    for n, tier in enumerate(TIERS):
        products[tier] = {
            "id": stripe_id(rng, "prod_"),
            "object": "product",
            "active": True,
            "attributes": [],
            "created": created + n * 60,
            "default_price": None,
            "description": f"{TIER_NAMES[tier]} plan, billed per seat",
            "images": [],
            "livemode": False,
            "marketing_features": [],
            "metadata": {"tier": tier},
            "name": TIER_NAMES[tier],
            "package_dimensions": None,
            "shippable": None,
            "statement_descriptor": None,
            "tax_code": None,
            "type": "service",
            "unit_label": "seat",
            "updated": created + n * 60,
            "url": None,
        }
    plans: dict[tuple[str, str, str], Obj] = {}
    prices: dict[tuple[str, str, str], Obj] = {}
    for tier in TIERS:
        for cur in CURRENCIES:
            for ikey, (interval, count, mult) in INTERVALS.items():
                # legacy USD monthly/yearly plans were made with the Plans API (plan_ ids), the rest with Prices;
                # either way Stripe serves the same id as both a plan and a price
                legacy = cur == "usd" and ikey in ("month", "year")
                pid = stripe_id(rng, "plan_" if legacy else "price_")
                unit = round(MONTHLY_UNIT[cur][tier] * mult)
                ts = created + 3600 + len(plans) * 60 if legacy else created + 200 * DAY + len(plans) * 60
                nickname = f"{TIER_NAMES[tier]} {ikey}ly {cur.upper()}"
                plans[(tier, cur, ikey)] = {
                    "id": pid,
                    "object": "plan",
                    "active": True,
                    "aggregate_usage": None,
                    "amount": unit,
                    "amount_decimal": str(unit),
                    "billing_scheme": "per_unit",
                    "created": ts,
                    "currency": cur,
                    "interval": interval,
                    "interval_count": count,
                    "livemode": False,
                    "metadata": {"tier": tier},
                    "meter": None,
                    "nickname": nickname,
                    "product": products[tier]["id"],
                    "tiers_mode": None,
                    "transform_usage": None,
                    "trial_period_days": None,
                    "usage_type": "licensed",
                }
                prices[(tier, cur, ikey)] = {
                    "id": pid,
                    "object": "price",
                    "active": True,
                    "billing_scheme": "per_unit",
                    "created": ts,
                    "currency": cur,
                    "custom_unit_amount": None,
                    "livemode": False,
                    "lookup_key": f"{tier}_{ikey}_{cur}",
                    "metadata": {"tier": tier},
                    "nickname": nickname,
                    "product": products[tier]["id"],
                    "recurring": {
                        "aggregate_usage": None,
                        "interval": interval,
                        "interval_count": count,
                        "meter": None,
                        "trial_period_days": None,
                        "usage_type": "licensed",
                    },
                    "tax_behavior": "exclusive" if cur in TAXED else "unspecified",
                    "tiers_mode": None,
                    "transform_quantity": None,
                    "type": "recurring",
                    "unit_amount": unit,
                    "unit_amount_decimal": str(unit),
                }
    for tier in TIERS:
        products[tier]["default_price"] = prices[(tier, "usd", "month")]["id"]

    def coupon(cid: str, name: str, duration: str, months: int | None, pct: float | None, off: int | None) -> Obj:
        return {
            "id": cid,
            "object": "coupon",
            "amount_off": off,
            "created": created + 300 * DAY,
            "currency": "usd" if off is not None else None,
            "duration": duration,
            "duration_in_months": months,
            "livemode": False,
            "max_redemptions": None,
            "metadata": {},
            "name": name,
            "percent_off": pct,
            "redeem_by": None,
            "times_redeemed": 0,
            "valid": True,
        }

    coupons = {
        "co_LAUNCH20X3": coupon("co_LAUNCH20X3", "Launch: 20% off for 3 months", "repeating", 3, 20.0, None),
        "co_LOYALTY10": coupon("co_LOYALTY10", "Loyalty 10% forever", "forever", None, 10.0, None),
        "co_PARTNER100": coupon("co_PARTNER100", "Partner program: free", "forever", None, 100.0, None),
        "co_WELCOME50USD": coupon("co_WELCOME50USD", "Welcome $50 off", "once", None, None, 5000),
    }
    tax_rates = {cur: stripe_id(rng, "txr_") for cur in sorted(TAXED)}
    return Catalog(products, plans, prices, coupons, tax_rates)


# --- scripts ----------------------------------------------------------------------------------------------


@dataclass
class BillingTenant:
    """What the billing simulation needs to know about a tenant that will pay."""

    index: int
    tenant_id: str
    name: str
    domain: str
    pay_start_ts: int  # when the tenant starts paying (or its trial starts)
    tier: str
    seats: int


@dataclass
class BillingScript:
    tenant: BillingTenant
    story: str
    currency: str
    interval: str  # month | quarter | year
    trial_days: int
    coupon: str | None
    collection: str  # charge_automatically | send_invoice
    link_in_app: bool = True  # False: the app never stored stripe_customer_id (metadata.tenant_id still links)


def assign_scripts(seed: int, tenants: list[BillingTenant]) -> list[BillingScript]:
    rng = substream(seed, "stripe", "scripts")
    order = sorted(tenants, key=lambda t: (t.pay_start_ts, t.index))
    stories = {t.index: (DECK[i] if i < len(DECK) else weighted(rng, RANDOM_STORIES)) for i, t in enumerate(order)}
    # currencies: a few guaranteed non-USD customers, then mostly USD
    currency_deck = ["jpy", "eur", "gbp", "eur", "jpy"]
    shuffled = list(order)
    rng.shuffle(shuffled)
    currency = {t.index: currency_deck[i] for i, t in enumerate(shuffled[: len(currency_deck)])}
    unlinked = shuffled[len(currency_deck)].index if len(shuffled) > 12 else None
    scripts = []
    for t in order:
        story = stories[t.index]
        cur = currency.get(t.index) or weighted(rng, [("usd", 78), ("eur", 11), ("gbp", 7), ("jpy", 4)])
        if story in STORIES_NEEDING_RENEWALS:
            interval = "month"
        elif story == "cancel_now":
            interval = "year"
        elif story == "refund_partial":
            interval = "quarter"
        else:
            interval = weighted(rng, [("month", 74), ("year", 18), ("quarter", 8)])
        trial = 14 if story.startswith("trial_") else (14 if story == "steady" and rng.random() < 0.15 else 0)
        coupon = COUPON_OF_STORY.get(story)
        if coupon == "co_WELCOME50USD":
            cur = "usd"
        collection = "charge_automatically"
        if t.tier == "enterprise" and story in ("steady", "seats", "upgrade") and rng.random() < 0.5:
            collection = "send_invoice"
        scripts.append(BillingScript(t, story, cur, interval, trial, coupon, collection, t.index != unlinked))
    return scripts


# --- simulation -------------------------------------------------------------------------------------------


@dataclass
class BillingOutcome:
    """What the app side needs from a tenant's billing history."""

    customer_id: str
    customer_created_ts: int
    link_in_app: bool
    plan_changes: list[tuple[int, str]] = field(default_factory=list)  # (ts, app plan), in time order
    activity: list[tuple[int, float]] = field(default_factory=list)  # (ts, activity factor from then on)


class Stop(Exception):
    """The next action would happen after the horizon."""


def _money(cur: str, amount: int) -> str:
    if cur == "jpy":
        return f"¥{amount:,}"
    return f"{CURRENCY_SYMBOL[cur]}{amount / 100:,.2f}"


def _day_label(ts: int) -> str:
    return from_unix(ts).strftime("%d %b %Y")


class CustomerSim:
    def __init__(self, seed: int, catalog: Catalog, horizon_ts: int, script: BillingScript) -> None:
        self.cat = catalog
        self.H = horizon_ts
        self.s = script
        t = script.tenant
        self.rng = substream(seed, "stripe", "sim", t.tenant_id)
        self.ids = substream(seed, "stripe", "ids", t.tenant_id)
        self.cur = script.currency
        self.objects: dict[str, list[Obj]] = {k: [] for k in STRIPE_OBJECT_TABLES if k not in CATALOG_TYPES}
        self.outcome: BillingOutcome | None = None
        self.pm = stripe_id(self.ids, "pm_", 24)
        self.card = {
            "brand": self.rng.choice(["visa", "visa", "mastercard", "amex"]),
            "last4": f"{self.rng.randrange(10000):04d}",
            "exp_month": self.rng.randint(1, 12),
            "exp_year": from_unix(t.pay_start_ts).year + self.rng.randint(1, 4),
        }

    # -- helpers --

    def _id(self, prefix: str, n: int = 14) -> str:
        return stripe_id(self.ids, prefix, n)

    def _guard(self, ts: int) -> int:
        if ts > self.H:
            raise Stop
        return ts

    def emit(self, ts: int, kind: str, obj: Obj, prev: Obj | None = None, by_request: bool = False) -> None:
        data: Obj = {"object": copy.deepcopy(obj)}
        if prev is not None:
            data["previous_attributes"] = prev
        self.objects["events"].append(
            {
                "id": self._id("evt_", 24),
                "object": "event",
                "api_version": STRIPE_API_VERSION,
                "created": ts,
                "data": data,
                "livemode": False,
                "pending_webhooks": 0,
                "request": {
                    "id": self._id("req_") if by_request else None,
                    "idempotency_key": self._id("", 32).lower() if by_request else None,
                },
                "type": kind,
            }
        )

    def _update_sub(self, ts: int, sub: Obj, by_request: bool = False, **changes: Any) -> None:
        prev = {}
        for key, value in changes.items():
            prev[key] = copy.deepcopy(sub[key])
            sub[key] = value
        self.emit(ts, "customer.subscription.updated", sub, prev, by_request)

    def _period_end(self, anchor: int, interval: str, k: int) -> int:
        months = {"month": 1, "quarter": 3, "year": 12}[interval] * k
        return unix(add_months(from_unix(anchor), months))

    # -- objects --

    def _customer(self, ts: int) -> Obj:
        t = self.s.tenant
        cus: Obj = {
            "id": self._id("cus_"),
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": ts,
            "currency": self.cur,
            "default_source": None,
            "delinquent": False,
            "description": None,
            "discount": None,
            "email": f"billing@{t.domain}",
            "invoice_prefix": "".join(self.ids.choice("0123456789ABCDEF") for _ in range(8)),
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": self.pm,
                "footer": None,
                "rendering_options": None,
            },
            "livemode": False,
            "metadata": {"tenant_id": t.tenant_id},
            "name": t.name,
            "next_invoice_sequence": 1,
            "phone": None,
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }
        self.objects["customers"].append(cus)
        self.emit(ts, "customer.created", cus, by_request=True)
        return cus

    def _new_subscription(self, ts: int, tier: str, qty: int, trial_end: int | None, coupon: str | None) -> Obj:
        sub_id = self._id("sub_")
        plan = self.cat.plans[(tier, self.cur, self.s.interval)]
        price = self.cat.prices[(tier, self.cur, self.s.interval)]
        item: Obj = {
            "id": self._id("si_"),
            "object": "subscription_item",
            "billing_thresholds": None,
            "created": ts,
            "discounts": [],
            "metadata": {},
            "plan": copy.deepcopy(plan),
            "price": copy.deepcopy(price),
            "quantity": qty,
            "subscription": sub_id,
            "tax_rates": [],
        }
        discount = None
        if coupon:
            c = self.cat.coupons[coupon]
            end = None
            if c["duration"] == "repeating":
                end = unix(add_months(from_unix(ts), c["duration_in_months"]))
            discount = {
                "id": self._id("di_"),
                "object": "discount",
                "checkout_session": None,
                "coupon": copy.deepcopy(c),
                "customer": self.cus["id"],
                "end": end,
                "invoice": None,
                "invoice_item": None,
                "promotion_code": None,
                "start": ts,
                "subscription": sub_id,
                "subscription_item": None,
            }
        send = self.s.collection == "send_invoice"
        sub = {
            "id": sub_id,
            "object": "subscription",
            "application": None,
            "application_fee_percent": None,
            "automatic_tax": {"enabled": False, "liability": None},
            "billing_cycle_anchor": trial_end or ts,
            "billing_cycle_anchor_config": None,
            "billing_thresholds": None,
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": self.s.collection,
            "created": ts,
            "currency": self.cur,
            "current_period_end": trial_end or self._period_end(ts, self.s.interval, 1),
            "current_period_start": ts,
            "customer": self.cus["id"],
            "days_until_due": 30 if send else None,
            "default_payment_method": None if send else self.pm,
            "default_source": None,
            "default_tax_rates": [],
            "description": None,
            "discount": discount,
            "discounts": [discount["id"]] if discount else [],
            "ended_at": None,
            "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
            "items": {
                "object": "list",
                "data": [item],
                "has_more": False,
                "total_count": 1,
                "url": f"/v1/subscription_items?subscription={sub_id}",
            },
            "latest_invoice": None,
            "livemode": False,
            "metadata": {"tenant_id": self.s.tenant.tenant_id},
            "next_pending_invoice_item_invoice": None,
            "on_behalf_of": None,
            "pause_collection": None,
            "payment_settings": {
                "payment_method_options": None,
                "payment_method_types": None,
                "save_default_payment_method": "off",
            },
            "pending_invoice_item_interval": None,
            "pending_setup_intent": None,
            "pending_update": None,
            "plan": copy.deepcopy(plan),
            "quantity": qty,
            "schedule": None,
            "start_date": ts,
            "status": "trialing" if trial_end else "active",
            "test_clock": None,
            "transfer_data": None,
            "trial_end": trial_end,
            "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
            "trial_start": ts if trial_end else None,
        }
        self.objects["subscriptions"].append(sub)
        self.objects["subscription_items"].append(item)
        self.emit(ts, "customer.subscription.created", sub, by_request=True)
        return sub

    def _item(self, sub: Obj) -> Obj:
        return sub["items"]["data"][0]

    def _discount_applies(self, sub: Obj, ts: int, first_invoice: bool) -> Obj | None:
        d = sub["discount"]
        if not d:
            return None
        c = d["coupon"]
        if c["duration"] == "once":
            return d if first_invoice else None
        if c["duration"] == "repeating" and d["end"] is not None and ts >= d["end"]:
            return None
        return d

    def _line(
        self,
        inv_id: str,
        sub: Obj,
        amount: int,
        ps: int,
        pe: int,
        *,
        qty: int,
        plan: Obj,
        price: Obj,
        description: str,
        proration: bool = False,
        invoice_item: str | None = None,
        credited: Obj | None = None,
    ) -> Obj:
        return {
            "id": self._id("il_"),
            "object": "line_item",
            "amount": amount,
            "amount_excluding_tax": amount,
            "currency": self.cur,
            "description": description,
            "discount_amounts": [],
            "discountable": not proration,
            "discounts": [],
            "invoice": inv_id,
            "invoice_item": invoice_item,
            "livemode": False,
            "metadata": {},
            "period": {"end": pe, "start": ps},
            "plan": copy.deepcopy(plan),
            "price": copy.deepcopy(price),
            "proration": proration,
            "proration_details": {"credited_items": credited},
            "quantity": qty,
            "subscription": sub["id"],
            "subscription_item": self._item(sub)["id"],
            "tax_amounts": [],
            "tax_rates": [],
            "type": "invoiceitem" if invoice_item else "subscription",
            "unit_amount_excluding_tax": str(price["unit_amount"])
            if not proration
            else str(round(amount / qty) if qty else amount),
        }

    def _invoice(
        self,
        ts: int,
        sub: Obj,
        reason: str,
        lines: list[Obj],
        inv_id: str,
        period: tuple[int, int],
        discount: Obj | None,
    ) -> Obj:
        """A draft invoice with totals computed; `invoice.created` is emitted."""
        cus = self.cus
        discount_total = 0
        if discount is not None:
            c = discount["coupon"]
            remaining_off = c["amount_off"]
            for line in lines:
                if not line["discountable"] or line["amount"] <= 0:
                    continue
                if c["percent_off"] is not None:
                    off = round(line["amount"] * c["percent_off"] / 100)
                else:
                    off = min(remaining_off, line["amount"])
                    remaining_off -= off
                line["discount_amounts"] = [{"amount": off, "discount": discount["id"]}]
                line["discounts"] = [discount["id"]]
                discount_total += off
        for line in lines:
            if not line["discount_amounts"]:
                line["discount_amounts"] = []
        subtotal = sum(line["amount"] for line in lines)
        tax = None
        tax_amounts: list[Obj] = []
        if self.cur in TAXED:
            rate = TAXED[self.cur]
            tax = 0
            for line in lines:
                base = line["amount"] - sum(d["amount"] for d in line["discount_amounts"])
                amt = round(base * rate / 100)
                line["tax_amounts"] = [
                    {
                        "amount": amt,
                        "inclusive": False,
                        "tax_rate": self.cat.tax_rates[self.cur],
                        "taxability_reason": None,
                        "taxable_amount": base,
                    }
                ]
                tax += amt
            tax_amounts = [
                {
                    "amount": tax,
                    "inclusive": False,
                    "tax_rate": self.cat.tax_rates[self.cur],
                    "taxability_reason": None,
                    "taxable_amount": subtotal - discount_total,
                }
            ]
        total_ex = subtotal - discount_total
        total = total_ex + (tax or 0)
        inv = {
            "id": inv_id,
            "object": "invoice",
            "account_country": "US",
            "account_name": "Execmetrics Demo Inc.",
            "account_tax_ids": None,
            "amount_due": 0,
            "amount_paid": 0,
            "amount_remaining": 0,
            "amount_shipping": 0,
            "application": None,
            "application_fee_amount": None,
            "attempt_count": 0,
            "attempted": False,
            "auto_advance": True,
            "automatic_tax": {"enabled": False, "liability": None, "status": None},
            "billing_reason": reason,
            "charge": None,
            "collection_method": sub["collection_method"],
            "created": ts,
            "currency": self.cur,
            "custom_fields": None,
            "customer": cus["id"],
            "customer_address": None,
            "customer_email": cus["email"],
            "customer_name": cus["name"],
            "customer_phone": None,
            "customer_shipping": None,
            "customer_tax_exempt": "none",
            "customer_tax_ids": [],
            "default_payment_method": None,
            "default_source": None,
            "default_tax_rates": [],
            "description": None,
            "discount": copy.deepcopy(discount) if discount is not None else None,
            "discounts": [discount["id"]] if discount is not None else [],
            "due_date": None,
            "effective_at": None,
            "ending_balance": None,
            "footer": None,
            "from_invoice": None,
            "hosted_invoice_url": None,
            "invoice_pdf": None,
            "issuer": {"type": "self"},
            "last_finalization_error": None,
            "latest_revision": None,
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": False,
                "total_count": len(lines),
                "url": f"/v1/invoices/{inv_id}/lines",
            },
            "livemode": False,
            "metadata": {},
            "next_payment_attempt": None,
            "number": None,
            "on_behalf_of": None,
            "paid": False,
            "paid_out_of_band": False,
            "payment_intent": None,
            "payment_settings": {
                "default_mandate": None,
                "payment_method_options": None,
                "payment_method_types": None,
            },
            "period_end": period[1],
            "period_start": period[0],
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "quote": None,
            "receipt_number": None,
            "rendering": None,
            "shipping_cost": None,
            "shipping_details": None,
            "starting_balance": cus["balance"],
            "statement_descriptor": None,
            "status": "draft",
            "status_transitions": {
                "finalized_at": None,
                "marked_uncollectible_at": None,
                "paid_at": None,
                "voided_at": None,
            },
            "subscription": sub["id"],
            "subscription_details": {"metadata": copy.deepcopy(sub["metadata"])},
            "subscription_proration_date": None,
            "subtotal": subtotal,
            "subtotal_excluding_tax": subtotal,
            "tax": tax,
            "test_clock": None,
            "total": total,
            "total_discount_amounts": (
                [{"amount": discount_total, "discount": discount["id"]}] if discount is not None else []
            ),
            "total_excluding_tax": total_ex,
            "total_tax_amounts": tax_amounts,
            "transfer_data": None,
            "webhooks_delivered_at": ts,
        }
        self.objects["invoices"].append(inv)
        sub["latest_invoice"] = inv_id
        self.emit(ts, "invoice.created", inv)
        return inv

    def _finalize(self, ts: int, inv: Obj) -> None:
        cus = self.cus
        seq = cus["next_invoice_sequence"]
        cus["next_invoice_sequence"] = seq + 1
        balance = inv["starting_balance"]
        after = inv["total"] + balance
        inv["amount_due"] = max(0, after)
        inv["amount_remaining"] = inv["amount_due"]
        inv["ending_balance"] = min(0, after)
        cus["balance"] = inv["ending_balance"]
        inv["number"] = f"{cus['invoice_prefix']}-{seq:04d}"
        inv["status"] = "open"
        inv["effective_at"] = ts
        inv["status_transitions"]["finalized_at"] = ts
        inv["hosted_invoice_url"] = f"https://invoice.stripe.com/i/acct_1DemoExecmetrics/test_{inv['id']}"
        inv["invoice_pdf"] = f"https://pay.stripe.com/invoice/acct_1DemoExecmetrics/test_{inv['id']}/pdf"
        if inv["collection_method"] == "send_invoice":
            inv["due_date"] = ts + 30 * DAY
        self.emit(ts, "invoice.finalized", inv)
        if inv["amount_due"] == 0:
            self._mark_paid(ts, inv)

    def _mark_paid(self, ts: int, inv: Obj) -> None:
        inv["status"] = "paid"
        inv["paid"] = True
        inv["amount_paid"] = inv["amount_due"]
        inv["amount_remaining"] = 0
        inv["next_payment_attempt"] = None
        inv["auto_advance"] = False
        inv["status_transitions"]["paid_at"] = ts
        self.emit(ts, "invoice.paid", inv)
        self.emit(ts, "invoice.payment_succeeded", inv)

    def _attempt(self, ts: int, inv: Obj, succeed: bool, next_attempt: int | None = None) -> Obj:
        """One payment attempt on an open invoice: a charge (succeeded or failed) on the invoice's intent."""
        self._guard(ts)
        amount = inv["amount_due"]
        if inv["payment_intent"] is None:
            pi = {
                "id": self._id("pi_", 24),
                "object": "payment_intent",
                "amount": amount,
                "amount_capturable": 0,
                "amount_details": {"tip": {}},
                "amount_received": 0,
                "application": None,
                "application_fee_amount": None,
                "automatic_payment_methods": None,
                "canceled_at": None,
                "cancellation_reason": None,
                "capture_method": "automatic",
                "client_secret": None,
                "confirmation_method": "automatic",
                "created": ts,
                "currency": self.cur,
                "customer": self.cus["id"],
                "description": "Subscription creation"
                if inv["billing_reason"] == "subscription_create"
                else "Subscription update",
                "invoice": inv["id"],
                "last_payment_error": None,
                "latest_charge": None,
                "livemode": False,
                "metadata": {},
                "next_action": None,
                "on_behalf_of": None,
                "payment_method": self.pm,
                "payment_method_configuration_details": None,
                "payment_method_options": {
                    "card": {
                        "installments": None,
                        "mandate_options": None,
                        "network": None,
                        "request_three_d_secure": "automatic",
                    }
                },
                "payment_method_types": ["card"],
                "processing": None,
                "receipt_email": None,
                "review": None,
                "setup_future_usage": "off_session",
                "shipping": None,
                "source": None,
                "statement_descriptor": None,
                "statement_descriptor_suffix": None,
                "status": "requires_payment_method",
                "transfer_data": None,
                "transfer_group": None,
            }
            pi["client_secret"] = f"{pi['id']}_secret_{self._id('', 25)}"
            self.objects["payment_intents"].append(pi)
            inv["payment_intent"] = pi["id"]
            self._pi_by_id[pi["id"]] = pi
        pi = self._pi_by_id[inv["payment_intent"]]
        if succeed:
            code, message = None, None
        else:
            x = self.rng.random()
            code, message = FAILURES[-1][0], FAILURES[-1][1]
            for c, m, w in FAILURES:
                x -= w
                if x < 0:
                    code, message = c, m
                    break
        ch = {
            "id": self._id("ch_", 24),
            "object": "charge",
            "amount": amount,
            "amount_captured": amount if succeed else 0,
            "amount_refunded": 0,
            "application": None,
            "application_fee": None,
            "application_fee_amount": None,
            "balance_transaction": self._id("txn_", 24) if succeed else None,
            "billing_details": {
                "address": {
                    "city": None,
                    "country": None,
                    "line1": None,
                    "line2": None,
                    "postal_code": None,
                    "state": None,
                },
                "email": self.cus["email"],
                "name": self.cus["name"],
                "phone": None,
            },
            "calculated_statement_descriptor": "EXECMETRICS",
            "captured": succeed,
            "created": ts,
            "currency": self.cur,
            "customer": self.cus["id"],
            "description": pi["description"],
            "disputed": False,
            "failure_balance_transaction": None,
            "failure_code": code,
            "failure_message": message,
            "fraud_details": {},
            "invoice": inv["id"],
            "livemode": False,
            "metadata": {},
            "on_behalf_of": None,
            "outcome": {
                "network_status": "approved_by_network" if succeed else "declined_by_network",
                "reason": None if succeed else ("expired_card" if code == "expired_card" else "generic_decline"),
                "risk_level": "normal",
                "risk_score": self.rng.randint(5, 60),
                "seller_message": "Payment complete." if succeed else "The bank did not return any further details.",
                "type": "authorized" if succeed else "issuer_declined",
            },
            "paid": succeed,
            "payment_intent": pi["id"],
            "payment_method": self.pm,
            "payment_method_details": {
                "card": {
                    "brand": self.card["brand"],
                    "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": None},
                    "country": "US",
                    "exp_month": self.card["exp_month"],
                    "exp_year": self.card["exp_year"],
                    "funding": "credit",
                    "last4": self.card["last4"],
                    "network": self.card["brand"],
                },
                "type": "card",
            },
            "receipt_email": None,
            "receipt_number": None,
            "receipt_url": None,
            "refunded": False,
            "review": None,
            "shipping": None,
            "source_transfer": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": "succeeded" if succeed else "failed",
            "transfer_data": None,
            "transfer_group": None,
        }
        if succeed:
            ch["receipt_url"] = f"https://pay.stripe.com/receipts/invoices/{ch['id']}"
        self.objects["charges"].append(ch)
        pi["latest_charge"] = ch["id"]
        inv["attempt_count"] += 1
        inv["attempted"] = True
        inv["charge"] = ch["id"]
        if succeed:
            pi["status"] = "succeeded"
            pi["amount_received"] = amount
            pi["last_payment_error"] = None
            self.emit(ts, "charge.succeeded", ch)
            self.emit(ts, "payment_intent.succeeded", pi)
            self._mark_paid(ts, inv)
        else:
            pi["status"] = "requires_payment_method"
            pi["last_payment_error"] = {
                "charge": ch["id"],
                "code": "card_declined" if code != "expired_card" else "expired_card",
                "decline_code": code if code != "expired_card" else None,
                "message": message,
                "type": "card_error",
            }
            inv["next_payment_attempt"] = next_attempt
            self.emit(ts, "charge.failed", ch)
            self.emit(ts, "payment_intent.payment_failed", pi)
            self.emit(ts, "invoice.payment_failed", inv)
        return ch

    def _refund(self, ts: int, ch: Obj, amount: int) -> None:
        self._guard(ts)
        re = {
            "id": self._id("re_", 24),
            "object": "refund",
            "amount": amount,
            "balance_transaction": self._id("txn_", 24),
            "charge": ch["id"],
            "created": ts,
            "currency": ch["currency"],
            "destination_details": {
                "card": {
                    "reference_status": "pending",
                    "reference_type": "acquirer_reference_number",
                    "type": "refund",
                },
                "type": "card",
            },
            "metadata": {},
            "payment_intent": ch["payment_intent"],
            "reason": "requested_by_customer",
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "succeeded",
            "transfer_reversal": None,
        }
        self.objects["refunds"].append(re)
        prev = {"amount_refunded": ch["amount_refunded"], "refunded": ch["refunded"]}
        ch["amount_refunded"] += amount
        ch["refunded"] = ch["amount_refunded"] >= ch["amount"]
        self.emit(ts, "charge.refunded", ch, prev)

    def _void(self, ts: int, inv: Obj) -> None:
        inv["status"] = "void"
        inv["amount_remaining"] = 0
        inv["next_payment_attempt"] = None
        inv["auto_advance"] = False
        inv["status_transitions"]["voided_at"] = ts
        if inv["payment_intent"]:
            pi = self._pi_by_id[inv["payment_intent"]]
            pi["status"] = "canceled"
            pi["canceled_at"] = ts
            pi["cancellation_reason"] = "void_invoice"
        # a voided invoice's credit goes back to the customer balance
        self.emit(ts, "invoice.voided", inv)

    def _cancel(self, ts: int, sub: Obj, reason: str, by_request: bool, at_period_end: bool = False) -> None:
        prev = {"status": sub["status"], "ended_at": None}
        if not at_period_end:
            prev["canceled_at"] = sub["canceled_at"]
            sub["canceled_at"] = ts
        sub["status"] = "canceled"
        sub["ended_at"] = ts
        sub["cancellation_details"] = {
            "comment": None,
            "feedback": self._feedback() if by_request else None,
            "reason": reason,
        }
        self.emit(ts, "customer.subscription.deleted", sub, prev, by_request)

    def _feedback(self) -> str:
        return self.rng.choice(["too_expensive", "missing_features", "switched_service", "unused", "other"])

    # -- the subscription life --

    def run(self) -> tuple[dict[str, list[Obj]], BillingOutcome]:
        t = self.s.tenant
        self._pi_by_id: dict[str, Obj] = {}
        start = t.pay_start_ts
        self.cus = self._customer(start - 60)
        out = BillingOutcome(self.cus["id"], self.cus["created"], self.s.link_in_app)
        self.out = out
        try:
            ended = self._run_subscription(start, t.tier, max(1, t.seats), self.s.story, self.s.coupon)
            if ended is not None and self.s.story == "reactivation":
                back = ended + self.rng.randint(60, 120) * DAY
                if back <= self.H - 5 * DAY:
                    self._run_subscription(back, self.rng.choice(TIERS[:2]), max(1, t.seats - 1), "steady", None)
        except Stop:
            pass
        self.cus["delinquent"] = any(s["status"] in ("past_due", "unpaid") for s in self.objects["subscriptions"])
        return self.objects, out

    def _plan(self, ts: int, plan: str) -> None:
        self.out.plan_changes.append((ts, plan))

    def _activity(self, ts: int, factor: float) -> None:
        self.out.activity.append((ts, factor))

    def _run_subscription(self, start: int, tier: str, qty: int, story: str, coupon: str | None) -> int | None:
        """Play one subscription from `start`; the end timestamp if it ended, None if alive at the horizon."""
        rng = self.rng
        interval = self.s.interval
        trial_end = start + self.s.trial_days * DAY if self.s.trial_days and story != "reactivated" else None
        self._plan(start, tier)
        self._activity(start, 1.0)
        sub = self._new_subscription(start, tier, qty, trial_end, coupon)
        self._sub = sub
        cur_tier = tier
        if trial_end is not None:
            plan = self.cat.plans[(tier, self.cur, interval)]
            price = self.cat.prices[(tier, self.cur, interval)]
            inv_id = self._id("in_", 24)
            line = self._line(
                inv_id,
                sub,
                0,
                start,
                trial_end,
                qty=qty,
                plan=plan,
                price=price,
                description=f"Trial period for {TIER_NAMES[tier]}",
            )
            inv = self._invoice(start, sub, "subscription_create", [line], inv_id, (start, start), None)
            self._finalize(start + 1, inv)
            self._guard(trial_end - 3 * DAY)
            self.emit(trial_end - 3 * DAY, "customer.subscription.trial_will_end", sub)
            self._guard(trial_end)
            if story == "trial_no_convert":
                self._cancel(trial_end, sub, "cancellation_requested", by_request=False)
                self._plan(trial_end, "free")
                self._activity(trial_end + 2 * DAY, 0.0)
                return trial_end
            anchor = trial_end
            prev_period = (start, trial_end)
            first_reason = "subscription_cycle"
            self._update_sub(
                trial_end,
                sub,
                status="active",
                current_period_start=trial_end,
                current_period_end=self._period_end(trial_end, interval, 1),
            )
        else:
            anchor = start
            prev_period = (start, start)
            first_reason = "subscription_create"

        # how many periods start before the horizon, to place the story's turning point
        n_periods = 0
        while self._period_end(anchor, interval, n_periods) <= self.H and n_periods < 400:
            n_periods += 1
        k_star = rng.randint(1, n_periods - 1) if n_periods >= 3 else (n_periods - 1 if n_periods >= 2 else 0)
        if story in ("upgrade", "seats", "downgrade", "cancel_now", "refund_partial") and n_periods >= 1:
            k_star = rng.randint(0, max(0, n_periods - 1))
        if story in ("reactivation", "lost_unpaid", "lost_void", "paused") and n_periods >= 3:
            k_star = rng.randint(1, max(1, min(n_periods - 2, 4)))
        pending: list[Obj] = []  # proration invoiceitems waiting for the next invoice
        pause_until_k: int | None = None
        k = 0
        ps = anchor
        while True:
            pe = self._period_end(anchor, interval, k + 1)
            self._guard(ps)
            if k > 0:
                self._update_sub(ps, sub, current_period_start=ps, current_period_end=pe)
            if pause_until_k is not None and k == pause_until_k:
                self._update_sub(ps, sub, pause_collection=None)
                self._activity(ps, 1.0)
                pause_until_k = None
            # a steady customer sometimes adds seats at renewal (no proration)
            if k > 0 and story == "steady" and rng.random() < 0.08:
                item = self._item(sub)
                item["quantity"] += rng.randint(1, 3)
                self._update_sub(ps, sub, quantity=item["quantity"], items=copy.deepcopy(sub["items"]))
            item = self._item(sub)
            first = k == 0
            discount = self._discount_applies(sub, ps, first)
            if sub["discount"] is not None and discount is None and not first:
                self._update_sub(ps, sub, discount=None, discounts=[])
            inv_id = self._id("in_", 24)
            unit = item["price"]["unit_amount"]
            line = self._line(
                inv_id,
                sub,
                unit * item["quantity"],
                ps,
                pe,
                qty=item["quantity"],
                plan=item["plan"],
                price=item["price"],
                description=f"{item['quantity']} × {TIER_NAMES[cur_tier]} (at {_money(self.cur, unit)} / "
                f"{'3 months' if interval == 'quarter' else item['plan']['interval']})",
            )
            lines = [line]
            lines += [self._proration_line(inv_id, sub, ii) for ii in pending]
            pending = []
            reason = first_reason if first else "subscription_cycle"
            inv = self._invoice(ps, sub, reason, lines, inv_id, prev_period if not first else (ps, ps), discount)
            prev_period = (ps, pe)
            fin = ps + (2 if first and reason == "subscription_create" else 3600)
            self._guard(fin)
            self._finalize(fin, inv)
            if sub["pause_collection"] is not None:
                self._void(fin + 1, inv)
            elif inv["status"] == "open":
                ended = self._collect(inv, sub, story, k, k_star, fin, pe)
                if ended is not None:
                    return ended
            # mid-period turning points
            span = pe - ps
            at = ps + int(span * rng.uniform(0.2, 0.8))
            if k == k_star and story in ("upgrade", "downgrade", "seats"):
                self._guard(at)
                new_tier, new_qty = cur_tier, item["quantity"]
                if story == "upgrade":
                    if cur_tier != "enterprise":
                        new_tier = TIERS[TIERS.index(cur_tier) + 1]
                    else:
                        new_qty += rng.randint(2, 6)
                elif story == "downgrade":
                    if cur_tier != "starter":
                        new_tier = TIERS[TIERS.index(cur_tier) - 1]
                    elif new_qty > 1:
                        new_qty -= 1
                    else:
                        new_tier = "growth"
                else:
                    new_qty += rng.randint(1, 8)
                items = self._change_item(at, sub, inv, line, ps, pe, new_tier, new_qty)
                if interval != "month":
                    # prorations on long intervals are invoiced at once
                    self._invoice_now(at, sub, items)
                else:
                    pending = items
                if new_tier != cur_tier:
                    self._plan(at, new_tier)
                    cur_tier = new_tier
            if k == k_star and story == "cancel_now":
                self._guard(at)
                self._cancel(at, sub, "cancellation_requested", by_request=True)
                if inv["charge"] and inv["status"] == "paid" and interval != "month":
                    ch = next(c for c in self.objects["charges"] if c["id"] == inv["charge"])
                    self._refund(at + 600, ch, round(ch["amount"] * (pe - at) / span))
                self._plan(at, "free")
                self._activity(at, 0.0)
                return at
            if k == k_star and story == "refund_partial" and inv["charge"] and inv["status"] == "paid":
                ch = next(c for c in self.objects["charges"] if c["id"] == inv["charge"])
                self._refund(ps + rng.randint(2, 9) * DAY, ch, round(ch["amount"] * rng.uniform(0.25, 0.5)))
            if k == k_star and story == "refund_full" and inv["charge"] and inv["status"] == "paid":
                ch = next(c for c in self.objects["charges"] if c["id"] == inv["charge"])
                when = ps + rng.randint(1, 4) * DAY
                self._refund(when, ch, ch["amount"])
                self._cancel(when + 60, sub, "cancellation_requested", by_request=True)
                self._plan(when, "free")
                self._activity(when, 0.0)
                return when + 60
            if k == k_star and story in ("cancel_eop", "reactivation"):
                self._guard(at)
                self._activity(at, 0.5)
                self._update_sub(at, sub, by_request=True, cancel_at_period_end=True, cancel_at=pe, canceled_at=at)
            if k == k_star - 1 and story == "paused":
                self._guard(at)
                pause_until_k = k + 3
                resumes = self._period_end(anchor, interval, pause_until_k)
                self._update_sub(at, sub, by_request=True, pause_collection={"behavior": "void", "resumes_at": resumes})
                self._activity(pe, 0.0)
            if sub["cancel_at_period_end"]:
                self._guard(pe)
                self._cancel(pe, sub, "cancellation_requested", by_request=False, at_period_end=True)
                self._plan(pe, "free")
                self._activity(pe, 0.0)
                return pe
            ps = pe
            k += 1

    def _change_item(
        self, at: int, sub: Obj, inv: Obj, line: Obj, ps: int, pe: int, new_tier: str, new_qty: int
    ) -> list[Obj]:
        """Change the subscription's item mid-period; returns the two proration invoice items."""
        item = self._item(sub)
        old_plan, old_price, old_qty = item["plan"], item["price"], item["quantity"]
        new_plan = copy.deepcopy(self.cat.plans[(new_tier, self.cur, self.s.interval)])
        new_price = copy.deepcopy(self.cat.prices[(new_tier, self.cur, self.s.interval)])
        frac = (pe - at) / (pe - ps)
        old_name = TIER_NAMES[old_plan["metadata"]["tier"]]
        credit = -round(old_price["unit_amount"] * old_qty * frac)
        debit = round(new_price["unit_amount"] * new_qty * frac)
        items = []
        for amount, qty, plan, price, desc, credited in (
            (
                credit,
                old_qty,
                old_plan,
                old_price,
                f"Unused time on {old_qty} × {old_name} after {_day_label(at)}",
                {"invoice": inv["id"], "invoice_line_items": [line["id"]]},
            ),
            (
                debit,
                new_qty,
                new_plan,
                new_price,
                f"Remaining time on {new_qty} × {TIER_NAMES[new_tier]} after {_day_label(at)}",
                None,
            ),
        ):
            ii = {
                "id": self._id("ii_", 24),
                "object": "invoiceitem",
                "amount": amount,
                "currency": self.cur,
                "customer": self.cus["id"],
                "date": at,
                "description": desc,
                "discountable": False,
                "discounts": [],
                "invoice": None,
                "livemode": False,
                "metadata": {},
                "period": {"end": pe, "start": at},
                "plan": copy.deepcopy(plan),
                "price": copy.deepcopy(price),
                "proration": True,
                "quantity": qty,
                "subscription": sub["id"],
                "subscription_item": item["id"],
                "tax_rates": [],
                "test_clock": None,
                "unit_amount": price["unit_amount"],
                "unit_amount_decimal": str(price["unit_amount"]),
                "_credited": credited,
            }
            items.append(ii)
        prev_items = copy.deepcopy(sub["items"])
        prev = {"items": prev_items, "plan": copy.deepcopy(sub["plan"]), "quantity": sub["quantity"]}
        item["plan"], item["price"], item["quantity"] = new_plan, new_price, new_qty
        sub["plan"], sub["quantity"] = copy.deepcopy(new_plan), new_qty
        self.emit(at, "customer.subscription.updated", sub, prev, by_request=True)
        for ii in items:
            # `_credited` is ours (which line a credit reverses); simulate() strips it before the dump
            self.emit(at, "invoiceitem.created", {k: v for k, v in ii.items() if k != "_credited"})
            self.objects["invoiceitems"].append(ii)
        return items

    def _proration_line(self, inv_id: str, sub: Obj, ii: Obj) -> Obj:
        """The invoice line of a pending proration invoice item, which now belongs to invoice `inv_id`."""
        ii["invoice"] = inv_id
        return self._line(
            inv_id,
            sub,
            ii["amount"],
            ii["period"]["start"],
            ii["period"]["end"],
            qty=ii["quantity"],
            plan=ii["plan"],
            price=ii["price"],
            description=ii["description"],
            proration=True,
            invoice_item=ii["id"],
            credited=ii["_credited"],
        )

    def _invoice_now(self, at: int, sub: Obj, items: list[Obj]) -> None:
        inv_id = self._id("in_", 24)
        lines = [self._proration_line(inv_id, sub, ii) for ii in items]
        inv = self._invoice(at, sub, "subscription_update", lines, inv_id, (at, at), None)
        self._finalize(at + 2, inv)
        if inv["status"] == "open":
            self._pay_or_wait(inv, at + 3)

    def _pay_or_wait(self, inv: Obj, ts: int) -> None:
        if inv["collection_method"] == "send_invoice":
            pay_at = ts + self.rng.randint(5, 28) * DAY
            if pay_at <= self.H:
                self._attempt(pay_at, inv, True)
        else:
            self._attempt(ts, inv, True)

    def _collect(self, inv: Obj, sub: Obj, story: str, k: int, k_star: int, ts: int, pe: int) -> int | None:
        """Collect an open invoice following the story; returns the end timestamp if the subscription ended."""
        rng = self.rng
        if inv["collection_method"] == "send_invoice":
            self._pay_or_wait(inv, ts)
            return None
        if story == "past_due" and k == k_star:
            attempts = rng.choice([2, 3])
            t = ts
            for n in range(attempts - 1):
                nxt = t + 3 * DAY
                self._attempt(t, inv, False, next_attempt=nxt)
                if n == 0:
                    self._update_sub(t, sub, status="past_due")
                    self._activity(t, 0.8)
                t = nxt
            self._attempt(t, inv, True)
            self._update_sub(t, sub, status="active")
            self._activity(t, 1.0)
            return None
        if story in ("lost_unpaid", "lost_void") and k == k_star:
            schedule = [ts, ts + 3 * DAY, ts + 8 * DAY, ts + 15 * DAY]
            for n, when in enumerate(schedule):
                self._attempt(when, inv, False, next_attempt=schedule[n + 1] if n + 1 < len(schedule) else None)
                if n == 0:
                    self._update_sub(when, sub, status="past_due")
                    self._activity(when, 0.4)
            last = schedule[-1]
            if story == "lost_void":
                end = last + 60
                self._guard(end)
                self._cancel(end, sub, "payment_failed", by_request=False)
                self._void(end, inv)
            else:
                self._update_sub(last + 60, sub, status="unpaid")
                self._activity(last + 60, 0.0)
                # dunning gives up before the next period would start (no renewal for an unpaid subscription)
                end = self._guard(min(last + rng.randint(5, 14) * DAY, pe - 3600))
                self._cancel(end, sub, "payment_failed", by_request=False)
                inv["status"] = "uncollectible"
                inv["next_payment_attempt"] = None
                inv["auto_advance"] = False
                inv["status_transitions"]["marked_uncollectible_at"] = end
                self.emit(end, "invoice.marked_uncollectible", inv)
            self._plan(end, "free")
            self._activity(end, 0.0)
            return end
        if story in ("steady", "upgrade", "seats", "coupon_forever", "trial_convert") and rng.random() < 0.05:
            # an ordinary dunning hiccup: first attempt fails, the retry three days later succeeds
            self._attempt(ts, inv, False, next_attempt=ts + 3 * DAY)
            self._update_sub(ts, sub, status="past_due")
            self._attempt(ts + 3 * DAY, inv, True)
            self._update_sub(ts + 3 * DAY, sub, status="active")
            return None
        self._attempt(ts + 1, inv, True)
        return None


def simulate(
    seed: int, catalog: Catalog, horizon_ts: int, script: BillingScript
) -> tuple[dict[str, list[Obj]], BillingOutcome]:
    objects, outcome = CustomerSim(seed, catalog, horizon_ts, script).run()
    for ii in objects["invoiceitems"]:
        ii.pop("_credited", None)
    return objects, outcome
