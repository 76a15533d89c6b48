"""The bad-input corpus: kinds of malformed input a real source produces, each with the reject it must give.

Every case is loaded on top of a small good source (tests/integration/test_app_extract.py's tables, the Stripe
dump test's objects), and the corpus test asserts the rule of docs/OPERATIONS.md ("What a load accepts"):
rows in raw + rows in raw._rejects = rows in the source, each reject's reason names the file and line (or row),
the column or field and the problem, and the other tables are untouched.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.integration.test_app_extract import API, EVENTS, JOBS, TENANTS, USERS
from tests.integration.test_stripe_dump import CUSTOMER, INVOICE, PLAN

FUTURE = (datetime.now(UTC) + timedelta(days=2)).isoformat()
DEEP = "[" * 5000 + "]" * 5000
VERY_DEEP = "[" * 30000 + "]" * 30000


@dataclass(frozen=True)
class Raw:
    """A value written into a JSONL line as this text, not as JSON (NaN, a broken escape, deep nesting ...)."""

    text: str


ABSENT = Raw("<absent>")  # the key or the column is left out
SKIP = Raw("<skip>")  # a kind one format cannot express

GOOD_APP: dict[str, list[dict[str, Any]]] = {
    "tenants": TENANTS,
    "users": USERS,
    "jobs": JOBS,
    "events": EVENTS,
    "api_requests": API,
}


@dataclass(frozen=True)
class AppCase:
    """Bad rows for one app table, in one format, with the reason fragments their rejects must have."""

    id: str
    table: str
    fmt: str  # "jsonl", "csv" or "sql"
    rows: tuple[dict[str, Any], ...] = ()  # rows added after the good ones (values: JSON values, Raw or ABSENT)
    lines: tuple[str, ...] = ()  # or: lines added as they are (text of the file's format)
    data: bytes | None = None  # or: bytes added as they are (encodings)
    expect: tuple[str, ...] = ()  # a fragment of each reject's reason, in line order
    loads: int = 0  # how many of the added rows load (the others are rejected)
    header: tuple[str, ...] | None = None  # CSV: another header (columns left out)
    bom: bool = False
    crlf: bool = False


def dumps_raw(value: Any) -> str:
    """JSON text of `value`, with every Raw inside written as its text and ABSENT keys left out."""
    marks: dict[str, str] = {}

    def plain(item: Any) -> Any:
        if isinstance(item, Raw):
            mark = f"@@raw{len(marks)}@@"
            marks[json.dumps(mark)] = item.text
            return mark
        if isinstance(item, dict):
            return {key: plain(value) for key, value in item.items() if value is not ABSENT}
        if isinstance(item, list):
            return [plain(value) for value in item]
        return item

    text = json.dumps(plain(value), default=str)
    for mark, raw in marks.items():
        text = text.replace(mark, raw)
    return text


def set_path(obj: Any, path: str, value: Any) -> None:
    """Set the field at a dotted path (list items by index); ABSENT removes it."""
    node = obj
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = keys[-1]
    if value is ABSENT:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _row(table: str, **changes: Any) -> dict[str, Any]:
    """A good row of `table` with a fresh id, changed as given."""
    base = dict(GOOD_APP[table][0])
    base["id"] = f"{table[:3]}_bad"
    base.update(changes)
    return base


# (table, column, value in JSONL, value in CSV or None when CSV cannot say it, reason fragment)
VALUE_KINDS: list[tuple[str, str, Any, str | None, str]] = [
    ("api_requests", "status_code", "two hundred", "two hundred", "status_code: invalid input syntax for type integer"),
    ("api_requests", "status_code", 999, "999", "status_code: 999 is above 599"),
    ("api_requests", "status_code", 42, "42", "status_code: 42 is below 100"),
    ("api_requests", "status_code", 2147483648, "2147483648", 'status_code: value "2147483648" is out of range'),
    ("api_requests", "status_code", 200.5, "200.5", "status_code: invalid input syntax for type integer"),
    ("api_requests", "status_code", True, None, 'status_code: invalid input syntax for type integer: "true"'),
    ("api_requests", "status_code", "\u0662\u0660\u0660", "\u0662\u0660\u0660", "status_code: invalid input syntax"),
    ("api_requests", "duration_ms", -5, "-5", "duration_ms: -5 is below 0"),
    ("api_requests", "duration_ms", "NaN", "NaN", "duration_ms: NaN is not a finite number"),
    ("api_requests", "duration_ms", "Infinity", "Infinity", "duration_ms: Infinity is not a finite number"),
    ("api_requests", "duration_ms", "-inf", "-inf", "duration_ms: -inf is not a finite number"),
    ("api_requests", "duration_ms", Raw("1e-400"), "1e-400", "is out of range for type double precision"),
    ("api_requests", "duration_ms", Raw("1e400"), "1e400", "is out of range for type double precision"),
    ("api_requests", "duration_ms", "fast", "fast", "duration_ms: invalid input syntax for type double precision"),
    ("api_requests", "duration_ms", [1, 2], None, "duration_ms: a JSON array where a single value belongs"),
    ("api_requests", "occurred_at", "yesterday", "yesterday", "occurred_at: not a date and time"),
    ("api_requests", "occurred_at", "now", "now", "occurred_at: not a date and time"),
    ("api_requests", "occurred_at", "infinity", "infinity", "occurred_at: not a date and time"),
    ("api_requests", "occurred_at", "2025-02-30T00:00:00Z", "2025-02-30T00:00:00Z", "occurred_at: date/time field"),
    (
        "api_requests",
        "occurred_at",
        "2025-03-01T08:00:00+16:00",
        "2025-03-01T08:00:00+16:00",
        "occurred_at: time zone displacement out of range",
    ),
    ("api_requests", "occurred_at", "294277-01-01", "294277-01-01", "occurred_at: timestamp out of range"),
    ("api_requests", "occurred_at", "9999-12-31T00:00:00Z", "9999-12-31T00:00:00Z", "occurred_at: 9999-12-31"),
    ("api_requests", "occurred_at", "10000-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "is in the future"),
    ("api_requests", "occurred_at", FUTURE, FUTURE, "is in the future"),
    ("api_requests", "occurred_at", "1969-12-31T00:00:00Z", "1969-12-31T00:00:00Z", "is before 1970-01-01"),
    ("api_requests", "occurred_at", "0044-03-15T00:00:00Z", "0044-03-15T00:00:00Z", "is before 1970-01-01"),
    ("api_requests", "occurred_at", 1735689600, "1735689600", "occurred_at: date/time field value out of range"),
    ("api_requests", "occurred_at", None, "", "occurred_at: missing"),
    ("api_requests", "occurred_at", ABSENT, None, "occurred_at: missing"),
    ("api_requests", "id", None, "", "id: missing"),
    ("api_requests", "id", "   ", "   ", "id: missing"),
    ("api_requests", "id", {"a": 1}, None, "id: a JSON object where a single value belongs"),
    ("api_requests", "id", ["r1"], None, "id: a JSON array where a single value belongs"),
    ("api_requests", "tenant_id", "t404", "t404", "tenant_id: unknown tenant 't404'"),
    ("api_requests", "tenant_id", None, "", "tenant_id: missing"),
    ("api_requests", "tenant_id", {"id": "t1"}, None, "tenant_id: a JSON object"),
    ("events", "properties", Raw('{"x": NaN}'), '{"x": NaN}', "invalid input syntax for type json"),
    ("events", "properties", Raw('{"x": Infinity}'), '{"x": Infinity}', "invalid input syntax for type json"),
    ("events", "properties", Raw('"\\u0000"'), '"\\u0000"', "unsupported Unicode escape sequence"),
    ("events", "properties", Raw('"\\ud800"'), '"\\ud800"', "invalid input syntax for type json"),
    ("events", "properties", SKIP, "{not json", "properties: invalid input syntax for type json"),
    ("events", "properties", Raw(DEEP), DEEP, "nested deeper than 1000 levels"),
    ("events", "properties", Raw(VERY_DEEP), None, "nested deeper than 1000 levels"),
    ("events", "event_type", None, "", "event_type: missing"),
    ("events", "user_id", {"id": "u1"}, None, "user_id: a JSON object"),
    ("events", "occurred_at", "31/02/2025", "31/02/2025", "occurred_at: date/time field value out of range"),
    ("tenants", "is_internal", "yes please", "yes please", "is_internal: invalid input syntax for type boolean"),
    ("tenants", "is_internal", "\u00a0true", "\u00a0true", "is_internal: invalid input syntax for type boolean"),
    ("tenants", "is_internal", None, "", "is_internal: missing"),
    ("tenants", "is_internal", ABSENT, None, "is_internal: missing"),
    ("tenants", "updated_at", None, "", "updated_at: missing"),
    ("tenants", "created_at", "1900-01-01T00:00:00Z", "1900-01-01T00:00:00Z", "created_at: 1900-01-01"),
    ("tenants", "deleted_at", "3000-01-01T00:00:00Z", "3000-01-01T00:00:00Z", "deleted_at: 3000-01-01"),
    ("users", "is_staff", 2, "2", "is_staff: invalid input syntax for type boolean"),
    ("users", "tenant_id", "t404", "t404", "tenant_id: unknown tenant 't404'"),
    ("users", "last_login_at", "2025-13-01T00:00:00Z", "2025-13-01T00:00:00Z", "last_login_at: date/time field"),
    ("jobs", "status", "exploded", "exploded", "status: 'exploded' is not one of"),
    ("jobs", "status", "", "", "status: missing"),
    ("jobs", "started_at", "soon", "soon", "started_at: invalid input syntax for type timestamp"),
    ("jobs", "updated_at", "2025-03-01T25:00:00Z", "2025-03-01T25:00:00Z", "updated_at: date/time field"),
]

# Whole lines that are not rows of any kind the format allows.
JSONL_LINES: list[tuple[str, str, str]] = [
    ("events", "{not json", "not valid JSON: invalid input syntax for type json"),
    ("events", '["a", "list"]', "not a JSON object"),
    ("events", '"just a string"', "not a JSON object"),
    ("events", '{"id": "e_trunc", "tenant_id": "t1", "event_', "not valid JSON"),
    ("events", '{"id": "e_nul", "tenant_id": "t1\x00", "event_type": "login"}', "contains a NUL byte"),
    ("events", '{"id": "e_sur", "tenant_id": "t1", "event_type": "\\udc00", "occurred_at": "2025-03-01"}', "json"),
    ("api_requests", "[" * 20000 + "]" * 20000, "nested deeper than 1000 levels"),
]
CSV_LINES: list[tuple[str, str, str]] = [
    ("api_requests", "r_more,t1,u1,GET,/a,200,1,2025-03-01T08:00:00Z,surplus", "9 fields, the header has 8"),
    ("api_requests", "r_less,t1,u1,GET,/a,200", "6 fields, the header has 8"),
    ("api_requests", "r_nul,t1,u\x001,GET,/a,200,1,2025-03-01T08:00:00Z", "contains a NUL byte"),
    ("api_requests", ",,,,,,,", "id: missing"),
    (
        "events",
        'e_quoted,t1,u1,login,2025-03-01T08:00:00Z,"{""note"": ""a, b\nc"", ""x"": NaN}"',
        "properties: invalid input syntax for type json",
    ),
]


def _app_value_cases() -> list[AppCase]:
    cases = []
    for i, (table, column, json_value, csv_value, fragment) in enumerate(VALUE_KINDS):
        slug = f"{i:02d}-{table}-{column}-" + (
            json_value.text[:12] if isinstance(json_value, Raw) else json.dumps(json_value)[:16]
        )
        if json_value is not SKIP:
            row = _row(table, **{column: json_value})
            cases.append(AppCase(f"jsonl:{slug}", table, "jsonl", rows=(row,), expect=(fragment,)))
        if csv_value is not None:
            row = _row(table, **{column: csv_value})
            cases.append(AppCase(f"csv:{slug}", table, "csv", rows=(row,), expect=(fragment,)))
    return cases


def _duplicate_cases() -> list[AppCase]:
    event = _row("events")
    other = {**event, "event_type": "file_upload"}
    tenant = _row("tenants")
    tenant_other = {**tenant, "plan": "enterprise"}
    request = _row("api_requests")
    cases = []
    for fmt in ("jsonl", "csv"):
        unit = "line"
        cases += [
            AppCase(
                f"{fmt}:event-duplicate", "events", fmt, rows=(event, event), expect=(f"duplicate of {unit}",), loads=1
            ),
            AppCase(
                f"{fmt}:event-conflicting-version",
                "events",
                fmt,
                rows=(event, other),
                expect=(f"conflicts with {unit}",),
                loads=1,
            ),
            AppCase(
                f"{fmt}:tenant-same-version-other-values",
                "tenants",
                fmt,
                rows=(tenant, tenant_other),
                expect=("(same id and updated_at, other values",),
                loads=1,
            ),
            AppCase(
                f"{fmt}:tenant-same-version-twice",
                "tenants",
                fmt,
                rows=(tenant, tenant),
                expect=("duplicate",),
                loads=1,
            ),
            AppCase(
                f"{fmt}:request-three-times",
                "api_requests",
                fmt,
                rows=(request, request, {**request, "status_code": 500}),
                expect=("conflicts with", "conflicts with"),
                loads=1,
            ),
        ]
    return cases


def _other_app_cases() -> list[AppCase]:
    accented = "é".encode("latin-1")
    cases = [
        AppCase(f"jsonl:line-{i}", table, "jsonl", lines=(line,), expect=(fragment,))
        for i, (table, line, fragment) in enumerate(JSONL_LINES)
    ]
    cases += [
        AppCase(f"csv:line-{i}", table, "csv", lines=(line,), expect=(fragment,))
        for i, (table, line, fragment) in enumerate(CSV_LINES)
    ]
    tenant = _row("tenants")
    cases += [
        AppCase(
            "jsonl:invalid-utf8",
            "events",
            "jsonl",
            data=b'{"id": "e_bad", "tenant_id": "t1", "event_type": "log\xffin"}\n',
            expect=("not valid UTF-8 (byte 0xff",),
        ),
        AppCase(
            "csv:invalid-utf8",
            "api_requests",
            "csv",
            data=b"r_bad,t1,u1,GET,/caf\xc3,200,1,2025-03-01T08:00:00Z\n",
            expect=("not valid UTF-8 (byte 0xc3",),
        ),
        AppCase(
            "csv:latin-1-lines",
            "api_requests",
            "csv",
            data=b"r_l1,t1,u1,GET,/caf"
            + accented
            + b",200,1,2025-03-01T08:00:00Z\n"
            + b"r_l2,t1,u1,GET,/ok,200,1,2025-03-01T08:00:00Z\n"
            + b"r_l3,t1,u1,GET,/na"
            + "ï".encode("latin-1")
            + b"ve,200,1,2025-03-01T08:00:00Z\n",
            expect=("not valid UTF-8 (byte 0xe9", "not valid UTF-8 (byte 0xef"),
            loads=1,
        ),
        AppCase(
            "jsonl:latin-1-line",
            "tenants",
            "jsonl",
            data=json.dumps({**tenant, "name": "Caf\u00e9"}, ensure_ascii=False).encode("latin-1") + b"\n",
            expect=("not valid UTF-8 (byte 0xe9",),
        ),
        AppCase("jsonl:bom", "events", "jsonl", rows=(_row("events"),), bom=True, loads=1),
        AppCase("csv:bom", "events", "csv", rows=(_row("events"),), bom=True, loads=1),
        AppCase(
            "csv:crlf-with-bad-row",
            "api_requests",
            "csv",
            rows=(_row("api_requests", status_code="x"),),
            crlf=True,
            expect=("status_code",),
        ),
        AppCase("jsonl:blank-lines", "events", "jsonl", lines=("", "   ", json.dumps(_row("events"))), loads=1),
        AppCase(
            "csv:no-is_internal-column",
            "tenants",
            "csv",
            header=("id", "name", "plan", "created_at", "updated_at", "stripe_customer_id", "deleted_at"),
            expect=("is_internal: missing", "is_internal: missing"),
        ),
        AppCase(
            "jsonl:later-object-lacks-a-required-key",
            "tenants",
            "jsonl",
            rows=({k: v for k, v in tenant.items() if k != "is_internal"},),
            expect=("is_internal: missing",),
        ),
        AppCase(
            "csv:ascii-whitespace-boolean-is-read",
            "tenants",
            "csv",
            rows=(_row("tenants", is_internal="\ttrue "),),
            loads=1,
        ),
    ]
    return cases


def app_cases() -> list[AppCase]:
    return _app_value_cases() + _duplicate_cases() + _other_app_cases()


# (column, SQL type in the app database, value, reason fragment): api_requests rows an app database can hold
SQL_KINDS: list[tuple[str, str, Any, str]] = [
    ("status_code", "text", "abc", "status_code: invalid input syntax for type integer"),
    ("status_code", "bigint", 99999999999, 'status_code: value "99999999999" is out of range'),
    ("status_code", "int", 999, "status_code: 999 is above 599"),
    ("duration_ms", "float8", float("nan"), "duration_ms: NaN is not a finite number"),
    ("duration_ms", "float8", float("inf"), "duration_ms: Infinity is not a finite number"),
    ("duration_ms", "float8", -1.0, "duration_ms: -1 is below 0"),
    ("occurred_at", "text", "garbage", "occurred_at: invalid input syntax for type timestamp with time zone"),
    ("occurred_at", "text", "today", "occurred_at: not a date and time"),
    ("occurred_at", "timestamptz", None, "occurred_at: missing"),
    ("occurred_at", "timestamptz", datetime(9999, 1, 1, tzinfo=UTC), "is in the future"),
    ("occurred_at", "text", "2025-03-01T08:00:00+16:00", "time zone displacement out of range"),
    ("tenant_id", "text", "t404", "tenant_id: unknown tenant 't404'"),
    ("id", "text", None, "id: missing"),
    ("id", "text", "", "id: missing"),
    ("duplicate", "text", None, "duplicate of row"),
]


# ------------------------------------------------------------------------------------------------ Stripe


@dataclass(frozen=True)
class StripeCase:
    id: str
    file: str  # the dump file (object type table)
    objects: tuple[Any, ...] = ()  # added after the good object (dicts, or Raw lines)
    data: bytes | None = None  # or bytes added as they are
    expect: tuple[str, ...] = ()
    loads: int = 0  # versions added by the added objects
    json_file: bool = False  # write a `.json` list object instead of `.jsonl`
    bom: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


GOOD_STRIPE: dict[str, list[dict[str, Any]]] = {"customers": [CUSTOMER], "plans": [PLAN], "invoices": [INVOICE]}


def _obj(table: str, path: str, value: Any, new_id: str | None = None) -> dict[str, Any]:
    """A good object of `table` (fresh id) with the field at the dotted path set to `value` (ABSENT: removed)."""
    obj = copy.deepcopy(GOOD_STRIPE[table][0])
    obj["id"] = new_id or obj["id"] + "_bad"
    set_path(obj, path, value)
    return obj


STRIPE_FIELD_KINDS: list[tuple[str, str, Any, str]] = [
    ("customers", "created", 10**20, "field 'created' 100000000000000000000 is not an integer"),
    ("customers", "created", Raw("NaN"), "payload: invalid input syntax for type json"),
    ("customers", "created", -1, "field 'created' -1 is not a Unix time in range"),
    ("customers", "created", 32503680000, "field 'created' 32503680000 is in the future"),
    ("customers", "created", "yesterday", "field 'created' \"yesterday\" is not an integer"),
    ("customers", "created", ABSENT, "has no field 'created'"),
    ("customers", "created", 1.5, "field 'created' 1.5 is not an integer"),
    ("customers", "currency", "dollars", "field 'currency' \"dollars\" is not an ISO 4217 currency"),
    ("customers", "currency", 840, "field 'currency' 840 is not a string"),
    ("customers", "email", "a\u0000b@x.test", "payload: unsupported Unicode escape sequence"),
    ("customers", "email", Raw('"\\ud800"'), "payload: invalid input syntax for type json"),
    ("customers", "metadata", "tenant t1", "field 'metadata' \"tenant t1\" is not an object"),
    ("customers", "id", {"nested": "id"}, "id: a JSON object, not a string"),
    ("customers", "id", 42, "id: a JSON number, not a string"),
    ("customers", "id", "", "missing id"),
    ("customers", "id", ABSENT, "missing id"),
    ("customers", "object", "widget", "expected a customer, got object type 'widget'"),
    ("customers", "object", ABSENT, "expected a customer, got object type none"),
    ("plans", "amount", "ten dollars", "field 'amount' \"ten dollars\" is not an integer"),
    ("plans", "amount", Raw("Infinity"), "payload: invalid input syntax for type json"),
    ("plans", "amount", 12.5, "field 'amount' 12.5 is not an integer"),
    ("plans", "amount", -100, "field 'amount' -100 is below 0"),
    ("plans", "amount", Raw("1e-400"), "field 'amount' 0.0 is not an integer"),
    ("plans", "currency", "XYZ", "field 'currency' \"XYZ\" is not an ISO 4217 currency"),
    ("plans", "interval", "fortnight", "field 'interval' \"fortnight\" is not one of"),
    ("plans", "interval_count", 0, "field 'interval_count' 0 is below 1"),
    ("plans", "interval_count", ABSENT, "has no field 'interval_count'"),
    ("invoices", "lines", ABSENT, "has no field 'lines'"),
    ("invoices", "lines.data", {"0": "x"}, 'field \'lines.data\' {"0": "x"} is not a list'),
    ("invoices", "lines.data.0", "a line", "line 1 is not an object"),
    ("invoices", "lines.data.0.amount", "ten", "line 1: field 'amount' \"ten\" is not an integer"),
    ("invoices", "lines.data.0.period.start", 10**13, "line 1: field 'period.start' 10000000000000 is not a Unix time"),
    ("invoices", "lines.data.0.period", ABSENT, "line 1 has no field 'period'"),
    ("invoices", "lines.data.0.discount_amounts", {"amount": 1}, "field 'discount_amounts'"),
    ("invoices", "lines.data.0.quantity", "two", "line 1: field 'quantity' \"two\" is not an integer"),
    ("invoices", "status", "bogus", "field 'status' \"bogus\" is not one of"),
    ("invoices", "status", 999, "field 'status' 999 is not a string"),
    ("invoices", "currency", "usdollars", "is not an ISO 4217 currency"),
    ("invoices", "attempt_count", -1, "field 'attempt_count' -1 is below 0"),
    ("invoices", "attempted", "yes", "field 'attempted' \"yes\" is not true or false"),
    (
        "invoices",
        "status_transitions",
        {"paid_at": "soon"},
        "field 'status_transitions.paid_at' \"soon\" is not an integer",
    ),
    ("invoices", "customer", ABSENT, "has no field 'customer'"),
    ("invoices", "customer", "", "field 'customer' is empty"),
]

STRIPE_LINES: list[tuple[str, str, str]] = [
    ("customers", "{broken json", "unparsable JSON"),
    ("customers", '["a", "list"]', "not a JSON object"),
    (
        "customers",
        '{"id": "cus_nul", "object": "customer", "email": "a\x00b"}',
        "unparsable JSON: Invalid control character",
    ),
    ("customers", "[" * 5000 + "]" * 5000, "JSON nested too deeply"),
    (
        "customers",
        '{"id": "cus_deep", "object": "customer", "created": 1, "metadata": ' + "[" * 3000 + "]" * 3000 + "}",
        "nested too deeply",
    ),
]


def stripe_cases() -> list[StripeCase]:
    cases = []
    for i, (table, path, value, fragment) in enumerate(STRIPE_FIELD_KINDS):
        shown = value.text[:10] if isinstance(value, Raw) else "absent" if value is ABSENT else json.dumps(value)[:14]
        cases.append(
            StripeCase(
                f"dump:{i:02d}-{table}-{path}-{shown}", table, objects=(_obj(table, path, value),), expect=(fragment,)
            )
        )
    cases += [
        StripeCase(f"dump:line-{i}", table, objects=(Raw(line),), expect=(fragment,))
        for i, (table, line, fragment) in enumerate(STRIPE_LINES)
    ]
    customer = _obj("customers", "email", "first@b.test", "cus_twice")
    cases += [
        StripeCase(
            "dump:invalid-utf8",
            "customers",
            data=b'{"id": "cus_u", "object": "customer", "created": 1, "email": "\xff@x"}\n',
            expect=("not valid UTF-8 (byte 0xff",),
        ),
        StripeCase(
            "dump:latin-1-line",
            "customers",
            data=json.dumps(_obj("customers", "email", "caf\u00e9@x.test"), ensure_ascii=False).encode("latin-1")
            + b"\n",
            expect=("not valid UTF-8 (byte 0xe9",),
        ),
        StripeCase(
            "dump:bom-jsonl", "customers", objects=(_obj("customers", "email", "bom@x.test"),), bom=True, loads=1
        ),
        StripeCase(
            "dump:bom-json",
            "customers",
            objects=(_obj("customers", "email", "bom@x.test"),),
            bom=True,
            json_file=True,
            loads=1,
        ),
        StripeCase(
            "dump:json-file-with-a-NaN-item",
            "customers",
            objects=(_obj("customers", "created", Raw("NaN")),),
            json_file=True,
            expect=("payload: invalid input syntax for type json",),
        ),
        StripeCase(
            "dump:same-id-twice-other-content",
            "customers",
            objects=(customer, {**customer, "email": "second@b.test"}),
            expect=("conflicts with customers.jsonl:3 (same id, another payload; the later one is kept)",),
            loads=1,
        ),
        StripeCase(
            "dump:same-id-twice-same-content",
            "customers",
            objects=(customer, customer),
            expect=("duplicate of customers.jsonl:3",),
            loads=1,
        ),
        StripeCase(
            "dump:tombstone", "customers", objects=({"id": "cus_gone", "object": "customer", "deleted": True},), loads=1
        ),
    ]
    return cases


# Objects as the Stripe API returns them, changed on the way (a proxy in front of localstripe): (list path, field,
# value, reason fragment). The first object of the first page is changed.
API_KINDS: list[tuple[str, str, Any, str]] = [
    ("customers", "created", Raw("NaN"), "payload: invalid input syntax for type json"),
    ("customers", "created", 10**20, "field 'created' 100000000000000000000 is not an integer"),
    ("customers", "created", 32503680000, "field 'created' 32503680000 is in the future"),
    ("customers", "currency", "dollars", "is not an ISO 4217 currency"),
    ("customers", "email", "a\u0000b@x.test", "payload: unsupported Unicode escape sequence"),
    ("customers", "id", {"x": 1}, "id: a JSON object, not a string"),
    ("plans", "amount", "ten dollars", "field 'amount' \"ten dollars\" is not an integer"),
    ("plans", "interval", "fortnight", "field 'interval' \"fortnight\" is not one of"),
    ("subscriptions", "current_period_end", "soon", "field 'current_period_end' \"soon\" is not an integer"),
    ("subscriptions", "status", "sleeping", "field 'status' \"sleeping\" is not one of"),
    ("invoices", "lines.data", {"0": "x"}, 'field \'lines.data\' {"0": "x"} is not a list'),
    ("charges", "amount", 12.5, "field 'amount' 12.5 is not an integer"),
]
