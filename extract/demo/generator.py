"""A deterministic synthetic SaaS company: the app tables of `contracts/app_source.md` and a Stripe JSON dump.

    from extract.demo.generator import DemoConfig, DemoCompany
    co = DemoCompany(DemoConfig(tenants=60, months=12, seed=42))
    co.write_app_files(folder)            # tenants.jsonl, users.jsonl, events.jsonl, jobs.jsonl, api_requests.jsonl
    co.write_app_database(conninfo)       # the same five tables in an empty Postgres database, loaded with COPY
    co.write_stripe_dump(folder)          # customers.jsonl, subscriptions.jsonl, invoices.jsonl, ... (API 2024-06-20)

Only tenants and users live in memory. Events, jobs and API requests are generated lazily per (day, tenant)
from independent seeded sub-streams, so output size scales (10M+ API requests) with bounded memory, and the
same config always gives byte-identical files (nothing depends on today's date, hash seeds or set order).

The billing simulation runs first: a tenant that churns in Stripe goes quiet in the app, its plan falls back to
`free`, and plan changes in Stripe show up as `plan_changed` events.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import operator
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from extract.demo import stripe_sim
from extract.demo._util import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    date_to_ms,
    hex_id,
    lognormal,
    month_starts,
    ms_to_dt,
    poisson,
    substream,
    weighted,
)
from extract.warehouse import STRIPE_OBJECT_TABLES

APP_TABLES: dict[str, tuple[str, ...]] = {
    "tenants": ("id", "name", "plan", "created_at", "updated_at", "stripe_customer_id", "is_internal", "deleted_at"),
    "users": ("id", "tenant_id", "email", "created_at", "updated_at", "last_login_at", "is_staff", "deleted_at"),
    "events": ("id", "tenant_id", "user_id", "event_type", "occurred_at", "properties"),
    "jobs": ("id", "tenant_id", "job_type", "status", "created_at", "started_at", "finished_at", "updated_at", "error"),
    "api_requests": ("id", "tenant_id", "user_id", "method", "route", "status_code", "duration_ms", "occurred_at"),
}

APP_DDL: dict[str, str] = {
    "tenants": """create table tenants (
        id text primary key, name text not null, plan text not null, created_at timestamptz not null,
        updated_at timestamptz not null, stripe_customer_id text, is_internal boolean not null,
        deleted_at timestamptz)""",
    "users": """create table users (
        id text primary key, tenant_id text not null, email text not null, created_at timestamptz not null,
        updated_at timestamptz not null, last_login_at timestamptz, is_staff boolean not null,
        deleted_at timestamptz)""",
    "events": """create table events (
        id text primary key, tenant_id text not null, user_id text, event_type text not null,
        occurred_at timestamptz not null, properties json)""",
    "jobs": """create table jobs (
        id text primary key, tenant_id text not null, job_type text not null, status text not null,
        created_at timestamptz not null, started_at timestamptz, finished_at timestamptz,
        updated_at timestamptz not null, error text)""",
    "api_requests": """create table api_requests (
        id text primary key, tenant_id text not null, user_id text, method text not null, route text not null,
        status_code integer not null, duration_ms double precision not null, occurred_at timestamptz not null)""",
}
APP_INDEXES = (
    "create index tenants_updated_at_idx on tenants (updated_at)",
    "create index users_updated_at_idx on users (updated_at)",
    "create index jobs_updated_at_idx on jobs (updated_at)",
    "create index events_occurred_at_idx on events (occurred_at)",
    "create index api_requests_occurred_at_idx on api_requests (occurred_at)",
)

STRIPE_TYPES = STRIPE_OBJECT_TABLES  # one file per raw.stripe_<type> table

# seasonality of tenant signups: slower in August and December
SEASON = {8: 0.6, 12: 0.55, 1: 1.1, 9: 1.1}
MONTHLY_GROWTH = 1.09
WEEKEND_FACTOR = 0.35
INTERNAL_NAMES = ["Execmetrics HQ", "Execmetrics QA Sandbox", "Execmetrics Sales Demo", "Execmetrics Load Test"]
# A tenant's name is drawn from these words until it is one not taken, NAME_DRAWS times at most: past that (a company
# with more tenants than the len(ADJ) * len(NOUN) * len(SUFFIX) names, the large one) its number is added to it.
NAME_DRAWS = 100
ADJ = [
    "Blue",
    "Bright",
    "North",
    "Silver",
    "Rapid",
    "Quiet",
    "Bold",
    "Clear",
    "Red",
    "Green",
    "Swift",
    "Prime",
    "Golden",
    "Urban",
    "Lunar",
    "Solar",
    "Iron",
    "Coastal",
    "Maple",
    "Summit",
    "Velvet",
    "Atlas",
    "Echo",
    "Nova",
]
NOUN = [
    "Harbor",
    "Peak",
    "River",
    "Forge",
    "Field",
    "Stone",
    "Bridge",
    "Pine",
    "Falcon",
    "Orbit",
    "Lantern",
    "Meadow",
    "Anchor",
    "Canyon",
    "Beacon",
    "Willow",
    "Ridge",
    "Harvest",
    "Compass",
    "Cedar",
    "Delta",
    "Vista",
]
SUFFIX = [
    "Labs",
    "Studio",
    "Partners",
    "Group",
    "Works",
    "Consulting",
    "Digital",
    "Systems",
    "Co",
    "Collective",
    "Analytics",
    "Architects",
    "Media",
    "Logistics",
    "Health",
    "Legal",
]
FIRST = [
    "ana",
    "ben",
    "carla",
    "dev",
    "emma",
    "farid",
    "grace",
    "hiro",
    "ines",
    "jon",
    "kai",
    "lena",
    "mo",
    "nora",
    "omar",
    "priya",
    "quinn",
    "rosa",
    "sam",
    "tara",
    "uma",
    "viktor",
    "wen",
    "yara",
    "zoe",
    "leo",
    "maya",
    "noah",
    "olga",
    "paul",
    "ravi",
    "sofia",
    "tom",
    "lucia",
    "felix",
    "amir",
    "chloe",
    "diego",
]
LAST = [
    "smith",
    "garcia",
    "kim",
    "muller",
    "rossi",
    "tanaka",
    "nowak",
    "silva",
    "khan",
    "dubois",
    "jensen",
    "okafor",
    "novak",
    "cohen",
    "ivanova",
    "larsen",
    "moreau",
    "patel",
    "reyes",
    "schmidt",
    "wang",
    "walsh",
]
TZ_OFFSETS = [(-8, 20), (-5, 30), (0, 15), (1, 20), (9, 8), (5, 7)]
TIER_WEIGHTS = [("free", 35), ("starter", 30), ("growth", 25), ("enterprise", 10)]

# method, route, weight, median ms, sigma, success status
ROUTES: list[tuple[str, str, float, float, float, int]] = [
    ("GET", "/api/v1/me", 12, 22, 0.45, 200),
    ("GET", "/api/v1/projects", 10, 45, 0.5, 200),
    ("GET", "/api/v1/worklogs", 20, 60, 0.55, 200),
    ("POST", "/api/v1/worklogs", 14, 85, 0.5, 201),
    ("PATCH", "/api/v1/worklogs/{id}", 5, 70, 0.5, 200),
    ("DELETE", "/api/v1/worklogs/{id}", 2, 50, 0.5, 204),
    ("GET", "/api/v1/files", 8, 55, 0.5, 200),
    ("POST", "/api/v1/files", 5, 380, 0.8, 201),
    ("GET", "/api/v1/files/{id}/download", 4, 160, 0.7, 200),
    ("GET", "/api/v1/reports/{id}", 6, 130, 0.6, 200),
    ("POST", "/api/v1/reports", 3, 650, 0.7, 202),
    ("GET", "/api/v1/users", 4, 40, 0.5, 200),
    ("POST", "/api/v1/auth/token", 5, 110, 0.4, 200),
    ("GET", "/api/v1/search", 2, 240, 0.8, 200),
]
_ROUTE_CUM: list[float] = []
_acc = 0.0
for _r in ROUTES:
    _acc += _r[2]
    _ROUTE_CUM.append(_acc)
_ROUTE_TOTAL = _acc
CLIENT_ERRORS = [(400, 20), (401, 18), (403, 10), (404, 30), (409, 4), (422, 12), (429, 6)]
SERVER_ERRORS = [(500, 60), (502, 15), (503, 15), (504, 10)]

JOB_DURATIONS = {
    "file_processing": (8_000, 0.9),
    "report_render": (20_000, 0.8),
    "export": (45_000, 0.9),
    "sync": (60_000, 0.7),
}
JOB_ERRORS = {
    "file_processing": [
        "ValueError: unsupported file encoding",
        "TimeoutError: virus scan exceeded 120s",
        "botocore.exceptions.ClientError: SlowDown (503) when calling PutObject",
    ],
    "report_render": [
        "RenderError: font 'Inter' not found",
        "TimeoutError: report render exceeded 300s",
        "MemoryError: report has too many rows",
    ],
    "export": [
        "psycopg.OperationalError: server closed the connection unexpectedly",
        "TimeoutError: export exceeded 600s",
    ],
    "sync": [
        "httpx.HTTPStatusError: 401 Unauthorized from integration",
        "httpx.ConnectTimeout: integration",
        "RateLimitError: upstream returned 429",
    ],
}


@dataclass(frozen=True)
class DemoConfig:
    tenants: int = 60
    months: int = 12
    seed: int = 42
    end: date = date(2026, 10, 31)
    api_requests_per_active_user_day: float = 8.5
    internal_tenants: int = 3
    events_per_active_user_day: float = 4.0  # besides the login: worklogs, uploads, reports
    users_per_tenant: float = 1.0  # a multiplier on each tenant's size (the large company: bigger tenants)
    max_tenant_users: int = 400
    # only the last N days have activity (events, jobs, API requests); tenants and users span all `months`
    activity_days: int | None = None
    # activity days before the last `full_rate_days` keep every session (who is active each day: what MAU reads) but
    # `history_rate` x the per-user events besides the login and the API requests: a long history on a small disk
    full_rate_days: int | None = None
    history_rate: float = 1.0

    @classmethod
    def large(
        cls,
        scale: float = 1.0,
        activity_days: int = 31,
        end: date = date(2026, 10, 30),
        *,
        full_rate_days: int | None = None,
        history_rate: float = 1.0,
    ) -> DemoConfig:
        """The large company: at scale 1, 10,000 tenants, about 1M users and, on a weekday, about 10M events and
        10M API requests a day, over three years of signups; activity on the last `activity_days` days only (the
        day a run builds and the 30 before it that MAU reads). `scale` multiplies the tenants (so the users, events
        and requests) for a smaller run; the per-user rates stay those of the full size, except on the activity days
        before the last `full_rate_days`, which carry `history_rate` x them (every session kept)."""
        if scale <= 0:
            raise ValueError("scale must be > 0")
        return cls(
            tenants=max(1, round(10_000 * scale)),
            months=36,
            end=end,
            users_per_tenant=10.0,
            max_tenant_users=3_000,
            events_per_active_user_day=30.0,
            api_requests_per_active_user_day=26.5,
            activity_days=activity_days,
            full_rate_days=full_rate_days,
            history_rate=history_rate,
        )

    @property
    def start(self) -> date:
        index = self.end.year * 12 + self.end.month - 1 - (self.months - 1)
        return date(index // 12, index % 12 + 1, 1)


@dataclass(slots=True)
class _User:
    id: str
    tenant_index: int
    email: str
    created_ms: int
    activated: bool
    engagement: float
    is_staff: bool
    deleted_ms: int | None = None
    last_login_ms: int | None = None


@dataclass
class _Tenant:
    index: int
    id: str
    name: str
    domain: str
    created_ms: int
    is_internal: bool
    tier: str  # the plan it means to buy (free: never)
    tz: int
    target_users: int
    integration: bool
    pay_start_ms: int | None = None
    plan: str = "free"
    plan_changes: list[tuple[int, str]] = field(default_factory=list)  # (ms, plan), after creation
    stripe_customer_id: str | None = None
    stripe_linked_ms: int | None = None
    deleted_ms: int | None = None
    factors: list[float] = field(default_factory=list)  # activity factor per demo day
    users: list[_User] = field(default_factory=list)
    one_offs: dict[int, list[tuple[int, str, str | None, dict[str, Any]]]] = field(default_factory=dict)


def _apportion(total: int, weights: list[float]) -> list[int]:
    """Largest-remainder apportionment (deterministic; ties go to the earlier month)."""
    s = sum(weights)
    raw = [total * w / s for w in weights]
    counts = [math.floor(x) for x in raw]
    order = sorted(range(len(weights)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


class DemoCompany:
    def __init__(self, config: DemoConfig | None = None) -> None:
        self.config = cfg = config or DemoConfig()
        if cfg.tenants < 1 or cfg.months < 1:
            raise ValueError("DemoConfig needs at least one tenant and one month")
        if not 0 < cfg.history_rate <= 1 or (cfg.full_rate_days is not None and cfg.full_rate_days < 1):
            raise ValueError("DemoConfig needs 0 < history_rate <= 1 and full_rate_days >= 1")
        self.start: date = cfg.start
        self.end: date = cfg.end
        self._start_ms = date_to_ms(self.start)
        self._days = (self.end - self.start).days + 1
        # the first day with activity (events, jobs, API requests): day 0 unless activity_days says otherwise
        self._first_active_day = max(0, self._days - cfg.activity_days) if cfg.activity_days else 0
        # the first day at the full per-user rates (the days before it carry history_rate x them)
        self._first_full_rate_day = self._days - cfg.full_rate_days if cfg.full_rate_days else 0
        self._horizon_ms = date_to_ms(self.end + timedelta(days=1)) - 1
        self._horizon_ts = self._horizon_ms // 1000
        self._tenants = self._make_tenants()
        self._run_billing()
        for t in self._tenants:
            self._finish_tenant(t)
            self._make_users(t)
        self._incidents = self._make_incidents()
        self._last_logins_done = False

    # ---------------------------------------------------------------------------------------------------
    # tenants

    def _make_tenants(self) -> list[_Tenant]:
        cfg = self.config
        rng = substream(cfg.seed, "tenants")
        months = month_starts(self.start, cfg.months)
        n_internal = min(cfg.internal_tenants, max(0, cfg.tenants - 1))
        n_external = cfg.tenants - n_internal
        weights = [MONTHLY_GROWTH**i * SEASON.get(m.month, 1.0) for i, m in enumerate(months)]
        counts = _apportion(n_external, weights)
        specs: list[tuple[int, bool]] = []
        for i in range(n_internal):
            specs.append((self._start_ms + i * DAY_MS + 9 * HOUR_MS + rng.randrange(HOUR_MS), True))
        for m, count in zip(months, counts, strict=True):
            first = (m - self.start).days
            nxt = date(m.year + (m.month == 12), m.month % 12 + 1, 1)
            last = min((nxt - self.start).days, self._days) - 1
            for _ in range(count):
                while True:
                    day = rng.randint(first, last)
                    weekend = (self.start + timedelta(days=day)).weekday() >= 5
                    if not weekend or rng.random() < 0.35:
                        break
                specs.append((self._start_ms + day * DAY_MS + 7 * HOUR_MS + rng.randrange(13 * HOUR_MS), False))
        specs.sort()
        tenants: list[_Tenant] = []
        seen_ids: set[str] = set()
        seen_names: set[str] = set()
        internal_names = iter(INTERNAL_NAMES)
        for index, (created_ms, internal) in enumerate(specs):
            tid = hex_id(rng, "ten_")
            while tid in seen_ids:
                tid = hex_id(rng, "ten_")
            seen_ids.add(tid)
            if internal:
                name = next(internal_names, f"Execmetrics Internal {index}")
            else:
                name = f"{rng.choice(ADJ)} {rng.choice(NOUN)} {rng.choice(SUFFIX)}"
                for _ in range(NAME_DRAWS):
                    if name not in seen_names:
                        break
                    name = f"{rng.choice(ADJ)} {rng.choice(NOUN)} {rng.choice(SUFFIX)}"
                else:  # the names left are too few to draw (more tenants than names): the tenant's number tells
                    name = f"{name} {index}"
            seen_names.add(name)
            domain = "execmetrics.io" if internal else name.lower().replace(" ", "") + ".example"
            tier = "enterprise" if internal else weighted(rng, TIER_WEIGHTS)
            base = {"free": 1.6, "starter": 3.5, "growth": 8.0, "enterprise": 24.0}[tier]
            size = 1 + int(base * rng.paretovariate(2.2) * lognormal(rng, 1.0, 0.35))
            scaled = min(round(size * cfg.users_per_tenant), cfg.max_tenant_users)
            target = max(4, min(size, 25)) if internal else scaled
            tz = int(weighted(rng, [(str(o), w) for o, w in TZ_OFFSETS]))
            integration = tier in ("growth", "enterprise") and rng.random() < 0.6
            t = _Tenant(index, tid, name, domain, created_ms, internal, tier, tz, target, integration)
            t.plan = "enterprise" if internal else "free"
            if not internal and tier != "free":
                if rng.random() < 0.55:
                    pay = created_ms + rng.randrange(5 * MINUTE_MS, 2 * DAY_MS)
                else:
                    pay = created_ms + rng.randint(10, 90) * DAY_MS + rng.randrange(8 * HOUR_MS)
                if pay <= self._horizon_ms - 3 * DAY_MS:
                    t.pay_start_ms = pay
            tenants.append(t)
        return tenants

    def _catalog(self) -> stripe_sim.Catalog:
        return stripe_sim.build_catalog(self.config.seed, self._start_ms // 1000)

    def _scripts(self) -> list[stripe_sim.BillingScript]:
        billing = [
            stripe_sim.BillingTenant(t.index, t.id, t.name, t.domain, t.pay_start_ms // 1000, t.tier, self._seats(t))
            for t in self._tenants
            if t.pay_start_ms is not None
        ]
        return stripe_sim.assign_scripts(self.config.seed, billing)

    @staticmethod
    def _seats(t: _Tenant) -> int:
        floor = {"starter": 1, "growth": 3, "enterprise": 10}.get(t.tier, 1)
        return max(floor, round(t.target_users * 0.8))

    def _run_billing(self) -> None:
        catalog = self._catalog()
        by_index = {t.index: t for t in self._tenants}
        for script in self._scripts():
            _, outcome = stripe_sim.simulate(self.config.seed, catalog, self._horizon_ts, script)
            t = by_index[script.tenant.index]
            t.stripe_customer_id = outcome.customer_id if outcome.link_in_app else None
            t.stripe_linked_ms = outcome.customer_created_ts * 1000
            t.plan_changes = [(ts * 1000, plan) for ts, plan in outcome.plan_changes]
            t.factors = self._factor_steps(t, [(ts * 1000, f) for ts, f in outcome.activity])

    def _factor_steps(self, t: _Tenant, steps: list[tuple[int, float]]) -> list[float]:
        """Per-day activity factors from (ms, factor) steps, evaluated at each day's midday."""
        steps = sorted(steps, key=lambda s: s[0])
        out = []
        j = -1
        for i in range(self._days):
            noon = self._start_ms + i * DAY_MS + 12 * HOUR_MS
            while j + 1 < len(steps) and steps[j + 1][0] <= noon:
                j += 1
            out.append(steps[j][1] if j >= 0 else 1.0)
        return out

    def _finish_tenant(self, t: _Tenant) -> None:
        rng = substream(self.config.seed, "tenant-life", t.id)
        if not t.factors:
            t.factors = [1.0] * self._days
        first_day = (t.created_ms - self._start_ms) // DAY_MS
        for i in range(min(first_day, self._days)):
            t.factors[i] = 0.0
        # free tenants sometimes drift away; churned ones are sometimes deleted
        quiet_from: int | None = None
        if not t.is_internal and t.pay_start_ms is None and rng.random() < 0.35:
            quiet_from = t.created_ms + rng.randint(20, 150) * DAY_MS
        elif t.plan_changes and t.plan_changes[-1][1] == "free":
            quiet_from = t.plan_changes[-1][0]
        if quiet_from is not None and quiet_from <= self._horizon_ms:
            qday = (quiet_from - self._start_ms) // DAY_MS
            for i in range(max(0, qday), self._days):
                t.factors[i] = 0.0
            if rng.random() < 0.3:
                deleted = quiet_from + rng.randint(10, 60) * DAY_MS + rng.randrange(DAY_MS)
                if deleted <= self._horizon_ms:
                    t.deleted_ms = deleted
        timeline = [(t.created_ms, t.plan)] + t.plan_changes
        t.plan = timeline[-1][1]

    def _make_incidents(self) -> list[tuple[int, int]]:
        """Two outage windows (5xx and failed jobs spike), at fixed fractions of the demo window."""
        rng = substream(self.config.seed, "incidents")
        out = []
        for frac in (0.41, 0.78):
            day = int(self._days * frac)
            begin = self._start_ms + day * DAY_MS + rng.randint(13, 17) * HOUR_MS + rng.randrange(HOUR_MS)
            out.append((begin, begin + rng.randint(60, 150) * MINUTE_MS))
        return out

    def _in_incident(self, ms: int) -> bool:
        return any(a <= ms < b for a, b in self._incidents)

    # ---------------------------------------------------------------------------------------------------
    # users

    def _make_users(self, t: _Tenant) -> None:
        rng = substream(self.config.seed, "users", t.id)
        # users join until the tenant goes quiet (or the demo ends)
        alive_days = [i for i, f in enumerate(t.factors) if f > 0]
        last_ms = self._start_ms + (alive_days[-1] + 1) * DAY_MS - 1 if alive_days else t.created_ms + HOUR_MS
        last_ms = min(last_ms, self._horizon_ms)
        span = max(last_ms - t.created_ms, HOUR_MS)
        emails: set[str] = set()
        engagement_base = 1.0 if t.is_internal or t.pay_start_ms is not None else 0.7
        for n in range(t.target_users):
            if n == 0:
                created = t.created_ms
            elif rng.random() < 0.6:
                created = t.created_ms + int(min(span, 30 * DAY_MS) * rng.random() ** 1.5)
            else:
                created = t.created_ms + int(span * rng.random())
            created = min(created + n * 1000, last_ms)
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = f"{first}.{last}@{t.domain}"
            k = 2
            while email in emails:
                email = f"{first}.{last}{k}@{t.domain}"
                k += 1
            emails.add(email)
            activated = t.is_internal or rng.random() < (0.95 if n == 0 else 0.74)
            engagement = min(0.95, max(0.05, rng.betavariate(2.2, 2.0) * engagement_base))
            uid = hex_id(rng, "usr_")
            user = _User(uid, t.index, email, created, activated, engagement, t.is_internal)
            if n > 0 and rng.random() < 0.04:
                deleted = created + int((self._horizon_ms - created) * rng.random())
                if deleted > created + DAY_MS:
                    user.deleted_ms = deleted
            t.users.append(user)
        t.users.sort(key=lambda u: (u.created_ms, u.id))
        # one-off events: signups, the invites that brought users in, plan changes
        owner = t.users[0]
        for u in t.users:
            invited = u is not owner and rng.random() < 0.8
            source = (
                "invite"
                if invited
                else weighted(rng, [("organic", 50), ("google_ads", 20), ("referral", 15), ("partner", 5), ("sso", 10)])
            )
            self._one_off(t, u.created_ms, "signup", u.id, {"source": source})
            if invited:
                inviters = [v for v in t.users if v.activated and v.created_ms < u.created_ms - MINUTE_MS]
                inviter = rng.choice(inviters) if inviters else owner
                when = max(inviter.created_ms + MINUTE_MS, u.created_ms - int(lognormal(rng, 3 * HOUR_MS, 1.2)))
                when = min(when, u.created_ms - 1000)
                if when >= inviter.created_ms:
                    self._one_off(
                        t, when, "invite_sent", inviter.id, {"role": rng.choice(["member", "member", "admin"])}
                    )
        previous = "enterprise" if t.is_internal else "free"
        for ms, plan in t.plan_changes:
            if plan != previous and ms <= self._horizon_ms:
                self._one_off(
                    t,
                    ms,
                    "plan_changed",
                    owner.id if rng.random() < 0.7 else None,
                    {"from": previous, "to": plan, "source": "stripe"},
                )
            previous = plan

    def _one_off(self, t: _Tenant, ms: int, kind: str, user_id: str | None, props: dict[str, Any]) -> None:
        day = (ms - self._start_ms) // DAY_MS
        if 0 <= day < self._days:
            t.one_offs.setdefault(day, []).append((ms, kind, user_id, props))

    def _compute_last_logins(self) -> None:
        if self._last_logins_done:
            return
        for t in self._tenants:
            remaining = {u.id for u in t.users if u.activated}
            for day in range(self._days - 1, self._first_active_day - 1, -1):
                if not remaining:
                    break
                for u, login, _ in self._sessions(t, day):
                    if u.id in remaining:
                        u.last_login_ms = login
                        remaining.discard(u.id)
        self._last_logins_done = True

    # ---------------------------------------------------------------------------------------------------
    # activity

    def _sessions(self, t: _Tenant, day: int) -> list[tuple[_User, int, int]]:
        """Who works on `day` and when: (user, login ms, session end ms). The shared source for all tables."""
        f = t.factors[day]
        if f <= 0 or not t.users:
            return []
        rng = substream(self.config.seed, "act", t.id, day)
        day_ms = self._start_ms + day * DAY_MS
        day_end = day_ms + DAY_MS - 1
        wk = WEEKEND_FACTOR if (self.start + timedelta(days=day)).weekday() >= 5 else 1.0
        out = []
        for u in t.users:
            r, h1, h2, s = rng.random(), rng.random(), rng.random(), rng.random()
            if not u.activated or u.created_ms > day_end or (u.deleted_ms is not None and u.deleted_ms <= day_ms):
                continue
            first_day = u.created_ms >= day_ms
            if not first_day and r >= u.engagement * wk * f:
                continue
            local_hour = 7.5 + 11.0 * (h1 + h2) / 2
            login = day_ms + int(((local_hour - t.tz) % 24) * HOUR_MS)
            if login <= u.created_ms:
                login = u.created_ms + MINUTE_MS
                if login > day_end:
                    continue
            end = min(login + int((10 + 300 * s * s) * MINUTE_MS), day_end)
            if u.deleted_ms is not None:
                end = min(end, u.deleted_ms - 1)
            out.append((u, login, max(end, login)))
        return out

    def _rate(self, day: int) -> float:
        """The multiplier on the per-user rates of `day`: history_rate before the first full-rate day."""
        return 1.0 if day >= self._first_full_rate_day else self.config.history_rate

    def _day_events(self, t: _Tenant, day: int) -> list[tuple[int, str, str | None, dict[str, Any] | None]]:
        out: list[tuple[int, str, str | None, dict[str, Any] | None]] = list(t.one_offs.get(day, ()))
        sessions = self._sessions(t, day)
        if sessions:
            rng = substream(self.config.seed, "ev", t.id, day)
            lam = self.config.events_per_active_user_day * self._rate(day)
            for u, login, end in sessions:
                span = end - login
                out.append(
                    (
                        login,
                        "login",
                        u.id,
                        {
                            "method": "sso"
                            if t.tier == "enterprise"
                            else ("google" if rng.random() < 0.3 else "password")
                        },
                    )
                )
                for _ in range(poisson(rng, lam * 0.68)):
                    out.append(
                        (
                            login + int(rng.random() * span),
                            "worklog_created",
                            u.id,
                            {"minutes": 15 * rng.randint(1, 16), "project_id": f"prj_{rng.randint(1, 12)}"},
                        )
                    )
                for _ in range(poisson(rng, lam * 0.22)):
                    out.append(
                        (
                            login + int(rng.random() * span),
                            "file_upload",
                            u.id,
                            {
                                "file_id": hex_id(rng, "file_", 16),
                                "size_bytes": int(lognormal(rng, 240_000, 1.3)),
                                "mime_type": rng.choice(
                                    ["application/pdf", "image/png", "text/csv", "application/vnd.ms-excel"]
                                ),
                            },
                        )
                    )
                for _ in range(poisson(rng, lam * 0.07)):
                    out.append(
                        (
                            login + int(rng.random() * span),
                            "report_generated",
                            u.id,
                            {
                                "report_type": rng.choice(["timesheet", "utilization", "invoice_summary"]),
                                "format": rng.choice(["pdf", "pdf", "csv", "xlsx"]),
                            },
                        )
                    )
        out.sort(key=lambda e: (e[0], e[1], e[2] or ""))
        return out

    def _iter_events(self) -> Iterator[dict[str, Any]]:
        for day in range(self._first_active_day, self._days):
            stamp = (self.start + timedelta(days=day)).strftime("%Y%m%d")
            for t in self._tenants:
                short = t.id[4:]
                for n, (ms, kind, uid, props) in enumerate(self._day_events(t, day)):
                    yield {
                        "id": f"ev_{short}_{stamp}_{n:05d}",
                        "tenant_id": t.id,
                        "user_id": uid,
                        "event_type": kind,
                        "occurred_at": ms_to_dt(ms),
                        "properties": props,
                    }

    def _iter_jobs(self) -> Iterator[dict[str, Any]]:
        horizon = self._horizon_ms
        for day in range(self._first_active_day, self._days):
            stamp = (self.start + timedelta(days=day)).strftime("%Y%m%d")
            day_ms = self._start_ms + day * DAY_MS
            for t in self._tenants:
                if t.factors[day] <= 0:
                    continue
                rng = substream(self.config.seed, "jobs", t.id, day)
                wanted: list[tuple[int, str]] = []
                for ms, kind, _, _ in self._day_events(t, day):
                    if kind == "file_upload":
                        wanted.append((ms + rng.randint(100, 900), "file_processing"))
                    elif kind == "report_generated":
                        wanted.append((ms + rng.randint(100, 900), "report_render"))
                sessions = self._sessions(t, day)
                for _, login, end in sessions:
                    if rng.random() < 0.04:
                        wanted.append((login + int(rng.random() * (end - login)), "export"))
                if t.integration:
                    for hour in (0, 6, 12, 18):
                        wanted.append((day_ms + hour * HOUR_MS + 15 * MINUTE_MS + rng.randrange(MINUTE_MS), "sync"))
                wanted.sort()
                short = t.id[4:]
                for n, (created, job_type) in enumerate(wanted):
                    if created > horizon:
                        continue
                    yield self._job(rng, f"job_{short}_{stamp}_{n:04d}", t.id, job_type, created)

    def _job(self, rng: Any, job_id: str, tenant_id: str, job_type: str, created: int) -> dict[str, Any]:
        horizon = self._horizon_ms
        wait = int(min(lognormal(rng, 1_500, 1.1), 20 * MINUTE_MS))
        median, sigma = JOB_DURATIONS[job_type]
        run = int(min(lognormal(rng, median, sigma), 2 * HOUR_MS))
        u = rng.random()
        p_fail = 0.35 if self._in_incident(created) else 0.042
        error = None
        begin = created + wait
        started: int | None = begin
        finished: int | None = begin + run
        if u < 0.009:
            status, started, finished = "cancelled", None, begin
        elif u < 0.009 + p_fail:
            status = "failed"
            finished = begin + int(run * rng.uniform(0.05, 1.0))
            error = rng.choice(JOB_ERRORS[job_type])
        else:
            status = "succeeded"
        if status != "cancelled" and started is not None and started > horizon:
            status, started, finished, error = "queued", None, None, None
        elif finished is not None and finished > horizon:
            status, finished, error = ("running", None, None) if started is not None else ("queued", None, None)
        updated = finished or started or created
        return {
            "id": job_id,
            "tenant_id": tenant_id,
            "job_type": job_type,
            "status": status,
            "created_at": ms_to_dt(created),
            "started_at": ms_to_dt(started) if started is not None else None,
            "finished_at": ms_to_dt(finished) if finished is not None else None,
            "updated_at": ms_to_dt(updated),
            "error": error,
        }

    def _iter_api_requests(self) -> Iterator[dict[str, Any]]:
        from bisect import bisect_right

        routes, cum, total = _route_table(), _ROUTE_CUM, _ROUTE_TOTAL
        fromts = datetime.fromtimestamp
        for day in range(self._first_active_day, self._days):
            rate = self.config.api_requests_per_active_user_day * self._rate(day)
            stamp = (self.start + timedelta(days=day)).strftime("%Y%m%d")
            day_ms = self._start_ms + day * DAY_MS
            for t in self._tenants:
                sessions = self._sessions(t, day)
                if not sessions and not (t.integration and t.factors[day] > 0):
                    continue
                rng = substream(self.config.seed, "api", t.id, day)
                calls: list[tuple[int, str | None]] = []
                for u, login, end in sessions:
                    span = end - login
                    for _ in range(poisson(rng, rate)):
                        calls.append((login + int(rng.random() * span), u.id))
                if t.integration and t.factors[day] > 0:
                    for _ in range(poisson(rng, rate * 0.1 * len(t.users) * t.factors[day])):
                        calls.append((day_ms + rng.randrange(DAY_MS), None))
                calls.sort(key=lambda c: c[0])
                short = t.id[4:]
                prefix = f"req_{short}_{stamp}_"
                random_, tid = rng.random, t.id
                windows = [w for w in self._incidents if w[0] < day_ms + DAY_MS and w[1] > day_ms]
                for n, (ms, uid) in enumerate(calls):
                    method, route, _, median, quantiles, ok = routes[bisect_right(cum, random_() * total)]
                    # lognormal by inverse CDF: interpolate the route's quantile table (cheaper than gauss())
                    q = random_() * _QUANTILE_STEPS
                    i = int(q)
                    duration = median * (quantiles[i] + (q - i) * (quantiles[i + 1] - quantiles[i]))
                    x = random_()
                    p5 = 0.15 if windows and any(a <= ms < b for a, b in windows) else 0.003
                    if x < p5:
                        status = _pick(SERVER_ERRORS, random_())
                        duration = 30_000.0 if status == 504 else duration * (6.0 if p5 > 0.1 else 2.0)
                    elif x < p5 + 0.045:
                        status = _pick(CLIENT_ERRORS, random_())
                        duration *= 0.4
                    else:
                        status = ok
                        if x > 0.98:  # the long tail: cold caches, big payloads, lock waits
                            duration *= 1.0 + lognormal(rng, 6.0, 0.9)
                    yield {
                        "id": prefix + str(n).zfill(6),
                        "tenant_id": tid,
                        "user_id": uid,
                        "method": method,
                        "route": route,
                        "status_code": status,
                        "duration_ms": int(duration * 100 + 0.5) / 100,
                        "occurred_at": fromts(ms / 1000, UTC),
                    }

    def _iter_tenants(self) -> Iterator[dict[str, Any]]:
        for t in self._tenants:
            times = [t.created_ms] + [ms for ms, _ in t.plan_changes if ms <= self._horizon_ms]
            if t.stripe_customer_id and t.stripe_linked_ms is not None:
                times.append(t.stripe_linked_ms)
            if t.deleted_ms is not None:
                times.append(t.deleted_ms)
            yield {
                "id": t.id,
                "name": t.name,
                "plan": t.plan,
                "created_at": ms_to_dt(t.created_ms),
                "updated_at": ms_to_dt(max(times)),
                "stripe_customer_id": t.stripe_customer_id,
                "is_internal": t.is_internal,
                "deleted_at": ms_to_dt(t.deleted_ms) if t.deleted_ms is not None else None,
            }

    def _iter_users(self) -> Iterator[dict[str, Any]]:
        self._compute_last_logins()
        for t in self._tenants:
            for u in t.users:
                times = [u.created_ms]
                if u.last_login_ms is not None:
                    times.append(u.last_login_ms)
                if u.deleted_ms is not None:
                    times.append(u.deleted_ms)
                yield {
                    "id": u.id,
                    "tenant_id": t.id,
                    "email": u.email,
                    "created_at": ms_to_dt(u.created_ms),
                    "updated_at": ms_to_dt(max(times)),
                    "last_login_at": ms_to_dt(u.last_login_ms) if u.last_login_ms is not None else None,
                    "is_staff": u.is_staff,
                    "deleted_at": ms_to_dt(u.deleted_ms) if u.deleted_ms is not None else None,
                }

    # ---------------------------------------------------------------------------------------------------
    # public interface

    def iter_rows(self, table: str) -> Iterator[dict[str, Any]]:
        """Rows of one app table, as dicts with exactly the contract's columns (tz-aware datetimes)."""
        producers = {
            "tenants": self._iter_tenants,
            "users": self._iter_users,
            "events": self._iter_events,
            "jobs": self._iter_jobs,
            "api_requests": self._iter_api_requests,
        }
        if table not in producers:
            raise ValueError(f"unknown app table {table!r}; expected one of {', '.join(APP_TABLES)}")
        return producers[table]()

    def write_app_files(self, directory: str | Path, fmt: str = "jsonl") -> dict[str, int]:
        if fmt not in ("jsonl", "csv"):
            raise ValueError(f"fmt must be 'jsonl' or 'csv', not {fmt!r}")
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        counts: dict[str, int] = {}
        for table, columns in APP_TABLES.items():
            n = 0
            with (folder / f"{table}.{fmt}").open("w", encoding="utf-8", newline="") as handle:
                if fmt == "jsonl":
                    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
                    fast = _FAST_JSONL.get(table)
                    for row in self.iter_rows(table):
                        if fast is not None:
                            handle.write(fast(row))
                        else:
                            handle.write(dumps({k: _json_value(v) for k, v in row.items()}))
                            handle.write("\n")
                        n += 1
                else:
                    writer = csv.writer(handle, lineterminator="\n")
                    writer.writerow(columns)
                    for row in self.iter_rows(table):
                        writer.writerow([_csv_value(row[c]) for c in columns])
                        n += 1
            counts[table] = n
        return counts

    def write_app_database(self, conninfo: str) -> dict[str, int]:
        """Create the five app tables in an existing empty database and fill them with COPY."""
        import psycopg

        counts: dict[str, int] = {}
        with psycopg.connect(conninfo) as conn:
            with conn.transaction():
                for table in APP_TABLES:
                    conn.execute(APP_DDL[table])
            for table, columns in APP_TABLES.items():
                n = 0
                with conn.transaction(), conn.cursor() as cur:
                    sql = f"copy {table} ({', '.join(columns)}) from stdin"
                    with cur.copy(sql) as copy:
                        # COPY text format, formatted here and sent in chunks (write_row is ~3x slower)
                        buffer: list[str] = []
                        fast = _FAST_COPY.get(table)
                        for row in self.iter_rows(table):
                            buffer.append(fast(row) if fast is not None else _copy_line(row, columns))
                            n += 1
                            if len(buffer) >= 2000:
                                copy.write("".join(buffer))
                                buffer.clear()
                        if buffer:
                            copy.write("".join(buffer))
                counts[table] = n
            with conn.transaction():
                for statement in APP_INDEXES:
                    conn.execute(statement)
                for table in APP_TABLES:
                    conn.execute(f"analyze {table}")
        return counts

    def stripe_objects(self) -> dict[str, list[dict[str, Any]]]:
        """Every Stripe object of the demo, per type (dump file stem), each list in creation order."""
        catalog = self._catalog()
        objects: dict[str, list[dict[str, Any]]] = {k: [] for k in STRIPE_TYPES}
        objects["products"] = list(catalog.products.values())
        objects["plans"] = list(catalog.plans.values())
        objects["prices"] = list(catalog.prices.values())
        for script in self._scripts():
            sim_objects, _ = stripe_sim.simulate(self.config.seed, catalog, self._horizon_ts, script)
            for kind, items in sim_objects.items():
                objects[kind].extend(items)
        # a coupon's redemptions: the discounts its subscriptions were created with (one pass over the events)
        subscriptions = {sub["id"] for sub in objects["subscriptions"]}
        redeemed: dict[str, int] = {}
        for e in objects["events"]:
            if e["type"] == "customer.subscription.created" and e["data"]["object"]["id"] in subscriptions:
                d = e["data"]["object"]["discount"]
                if d:
                    redeemed[d["coupon"]["id"]] = redeemed.get(d["coupon"]["id"], 0) + 1
        coupons = []
        for c in catalog.coupons.values():
            c = dict(c)
            c["times_redeemed"] = redeemed.get(c["id"], 0)
            coupons.append(c)
        objects["coupons"] = coupons
        for kind, items in objects.items():
            key = "date" if kind == "invoiceitems" else "created"
            items.sort(key=operator.itemgetter(key))  # stable: ties keep simulation order
        return objects

    def write_stripe_dump(self, directory: str | Path) -> dict[str, int]:
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        counts = {}
        for kind, items in self.stripe_objects().items():
            with (folder / f"{kind}.jsonl").open("w", encoding="utf-8", newline="\n") as handle:
                for obj in items:
                    handle.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
                    handle.write("\n")
            counts[kind] = len(items)
        return counts


_QUANTILE_STEPS = 2048


@functools.cache
def _route_table() -> list[tuple[str, str, float, float, list[float], int]]:
    """ROUTES with sigma replaced by a table of lognormal multipliers at evenly spaced quantiles."""
    normal = statistics.NormalDist()
    z = [normal.inv_cdf((i + 0.5) / (_QUANTILE_STEPS + 1)) for i in range(_QUANTILE_STEPS + 1)]
    return [(m, r, w, median, [math.exp(sigma * v) for v in z], ok) for m, r, w, median, sigma, ok in ROUTES]


def _pick(options: Sequence[tuple[int, float]], x: float) -> int:
    total = sum(w for _, w in options)
    x *= total
    for value, w in options:
        x -= w
        if x < 0:
            return value
    return options[-1][0]


def _q(value: str | None) -> str:
    """A JSON string for ids and codes the generator makes (no quotes, backslashes or control characters)."""
    return "null" if value is None else '"' + value + '"'


def _fast_api_request(row: dict[str, Any]) -> str:
    # same bytes as the generic path (json floats are repr()), about three times faster
    return (
        f'{{"id":"{row["id"]}","tenant_id":"{row["tenant_id"]}","user_id":{_q(row["user_id"])},'
        f'"method":"{row["method"]}","route":"{row["route"]}","status_code":{row["status_code"]},'
        f'"duration_ms":{row["duration_ms"]!r},"occurred_at":"{row["occurred_at"].isoformat(timespec="milliseconds")}"}}\n'
    )


_PROPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _fast_event(row: dict[str, Any]) -> str:
    props = row["properties"]
    return (
        f'{{"id":"{row["id"]}","tenant_id":"{row["tenant_id"]}","user_id":{_q(row["user_id"])},'
        f'"event_type":"{row["event_type"]}","occurred_at":"{row["occurred_at"].isoformat(timespec="milliseconds")}",'
        f'"properties":{"null" if props is None else _PROPS(props)}}}\n'
    )


_FAST_JSONL = {"api_requests": _fast_api_request, "events": _fast_event}


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, dict):
        return _PROPS(value).translate(_COPY_ESCAPES)
    return repr(value) if isinstance(value, float) else str(value)


def _copy_line(row: dict[str, Any], columns: tuple[str, ...]) -> str:
    return "\t".join([_copy_value(row[c]) for c in columns]) + "\n"


def _n(value: str | None) -> str:
    return "\\N" if value is None else value


def _copy_api_request(row: dict[str, Any]) -> str:
    # generated ids, methods and routes hold no tab, newline or backslash
    return (
        f"{row['id']}\t{row['tenant_id']}\t{_n(row['user_id'])}\t{row['method']}\t{row['route']}\t"
        f"{row['status_code']}\t{row['duration_ms']!r}\t{row['occurred_at']}\n"
    )


def _copy_event(row: dict[str, Any]) -> str:
    props = row["properties"]
    text = "\\N" if props is None else _PROPS(props).translate(_COPY_ESCAPES)
    return f"{row['id']}\t{row['tenant_id']}\t{_n(row['user_id'])}\t{row['event_type']}\t{row['occurred_at']}\t{text}\n"


_FAST_COPY = {"api_requests": _copy_api_request, "events": _copy_event}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    return value


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value
