"""The checks a row or object must pass before it reaches its raw table, as SQL generated from extract/tables.py.

Postgres is the validator: a value is valid for a column when the column type's own input function accepts it
(`pg_input_is_valid`), and a reject's reason quotes that function's message (`pg_input_error_info`), so what the
extractors accept is exactly what the warehouse can store. The declared rules (required, allowed values, bounds,
known tenants, not in the future) are checked on the typed values after that.

Each generator returns a SELECT over a staging table whose output has the typed columns, `_line` (the row's line
in its file, or its row number), the values as text (`v_<column>`, for the rejects table), `_outside` (its watermark
is outside the load's window: skipped, neither loaded nor rejected) and `_reason` (null when the row is valid, else
the first problem found: the column and what is wrong with it). Parameters: `%(ceiling)s` (the load's clock plus
the future tolerance), `%(start)s` / `%(end)s` (the window, either may be null).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Literal, NamedTuple

from extract.tables import (
    EARLIEST_TIMESTAMP,
    ISO_CURRENCIES,
    LATEST_UNIX_SECONDS,
    STRIPE_OBJECTS,
    AppTable,
    Column,
    Field,
    StripeObject,
)

StageShape = Literal["columns", "document"]


def literal(text: str) -> str:
    """A SQL string literal (our own constants only)."""
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _set(values: Sequence[str]) -> str:
    return "(" + ", ".join(literal(value) for value in sorted(values)) + ")"


def _error(value: str, pg_type: str, fallback: str) -> str:
    """The input function's message for a value it refused (a fallback when it accepted it but a rule did not)."""
    return f"coalesce((pg_input_error_info({value}, {literal(pg_type)})).message, {literal(fallback)})"


# ------------------------------------------------------------------------------------------------ app rows


def _typed(column: Column, value: str) -> str:
    """The typed value, or null when the text is not valid for the column's type (checked again in the reason)."""
    if column.type == "text":
        return value
    valid = f"pg_input_is_valid({value}, {literal(column.type)})"
    if column.type == "timestamptz":
        # Postgres also reads 'now', 'today', 'epoch', 'infinity' as timestamps: a source value must be a date.
        valid = f"{_digits_first(value)} and {valid}"
    return f"case when {valid} then {value}::{column.type} end"


def _digits_first(value: str) -> str:
    return f"(ascii({value}) between 48 and 57 or ascii(ltrim({value})) between 48 and 57)"


class Rule(NamedTuple):
    """One rule of a column: the condition that makes a row bad and its reason, over the value's text `v_<name>` and
    typed value `<name>` (see app_check_sql); `stored` is the same test over the row as COPY stores it (the typed
    columns alone, app_copy_where), None where COPY cannot store such a value at all (its type's input function
    refuses it, a JSON document is never copied as it is, the raw table's NOT NULL refuses a null) or where the
    source itself vouches for the text (a timestamp's first character: extract/app/sources.py's PlainCsv). `kind`
    names a rule a plain source may judge on its own bytes instead (PlainCsv.judges). A condition may be null where a
    value is null: that is not bad."""

    bad: str
    reason: str
    stored: str | None = None
    kind: Literal["", "blank", "tenant"] = ""


def _column_rules(column: Column, shape: StageShape) -> list[Rule]:
    """The rules of one column, in order."""
    name = column.name
    text, typed = ident("v_" + name), ident(name)
    label = literal(name + ": ")
    rules: list[Rule] = []
    if column.required:
        # Stored: a null breaks the raw table's NOT NULL (the COPY fails and the rows are staged); a text may be blank
        # (btrim only for '' or a value beginning with a space: no copy of every value).
        blank = f"ascii({typed}) in (0, 32) and btrim({typed}) = ''" if column.type == "text" else None
        rules.append(Rule(f"{text} is null or btrim({text}) = ''", literal(name + ": missing"), blank, "blank"))
    if shape == "document" and column.type != "jsonb":
        jtype = ident("j_" + name)
        rules.append(
            Rule(
                f"{jtype} in ('object', 'array')", f"{label} || 'a JSON ' || {jtype} || ' where a single value belongs'"
            )
        )
    if column.type != "text":
        message = _error(text, column.type, "not a date and time" if column.type == "timestamptz" else "invalid")
        rules.append(Rule(f"{text} is not null and {typed} is null", f"{label} || {message}"))
    if column.type == "timestamptz":  # Postgres also reads 'now', 'today', 'epoch', 'infinity': not dates
        rules.append(Rule(f"not {_digits_first(text)}", f"{label} || 'not a date and time'"))

    def on_value(condition: str, reason: str) -> None:  # judged on the typed value alone
        rules.append(Rule(condition, reason, condition))

    if column.allowed:
        on_value(
            f"{typed} not in {_set(column.allowed)}",
            f"{label} || quote_literal({typed}) || {literal(' is not one of ' + ', '.join(column.allowed))}",
        )

    double = column.type == "double precision"
    if double:
        # Stored, for the COPY: not finite, below or above, in two comparisons (NaN sorts above Infinity in Postgres);
        # the bounds' own rules below then need no stored test.
        low = f"< {column.minimum:g}" if column.minimum is not None else "= '-Infinity'"
        high = f"> {column.maximum:g}" if column.maximum is not None else ">= 'Infinity'"
        rules.append(
            Rule(
                f"{typed} in ('NaN', 'Infinity', '-Infinity')",
                f"{label} || {text} || ' is not a finite number'",
                f"{typed} {low} or {typed} {high}",
            )
        )

    def on_bound(condition: str, reason: str) -> None:
        rules.append(Rule(condition, reason, None if double else condition))

    if column.minimum is not None:
        on_bound(
            f"{typed} < {column.minimum:g}", f"{label} || {typed}::text || {literal(f' is below {column.minimum:g}')}"
        )
    if column.maximum is not None:
        on_bound(
            f"{typed} > {column.maximum:g}", f"{label} || {typed}::text || {literal(f' is above {column.maximum:g}')}"
        )
    if column.type == "timestamptz":
        on_value(
            f"{typed} < {literal(EARLIEST_TIMESTAMP)}::timestamptz",
            f"{label} || {typed}::text || {literal(' is before ' + EARLIEST_TIMESTAMP[:10])}",
        )
        on_value(
            f"{typed} > %(ceiling)s::timestamptz",
            f"{label} || {typed}::text || ' is in the future (after the load''s clock plus the tolerance)'",
        )
    if column.tenant:
        rules.append(
            Rule(
                f"{typed} not in (select id from raw.app_tenants)",
                f"{literal(name + ': unknown tenant ')} || quote_literal({typed})",
                # COPY's WHERE takes no subquery: the known tenants come as the keys of a JSON object (a binary
                # search per row; a text array would be scanned whole, as COPY's WHERE is not planned)
                f"not %(tenants)s::jsonb ? {typed}",
                "tenant",
            )
        )
    return rules


def _outside(table: AppTable) -> str:
    mark = ident(table.watermark)
    return (
        f"coalesce({mark} is not null and ((%(start)s::timestamptz is not null and {mark} < %(start)s::timestamptz)"
        f" or (%(end)s::timestamptz is not null and {mark} >= %(end)s::timestamptz)), false)"
    )


def _column_values(table: AppTable, staged: Mapping[str, str]) -> str:
    """The text of each contract column from a "columns" stage (null where the source lacks it)."""
    values = []
    for name in table.column_names:
        value = f"nullif(s.{ident(staged[name])}, '')" if name in staged else "null::text"
        values.append(f"{value} as {ident('v_' + name)}")
    return ", ".join(values)


def app_fast_sql(table: AppTable, stage: str, staged: Mapping[str, str]) -> str:
    """The valid rows of the window of a "columns" stage, cast without a validity test first: the cheap path for a
    stage where every value is valid. A value its type cannot read raises (a data exception, SQLSTATE class 22);
    the caller then takes app_check_sql for that stage. The same rules as app_check_sql filter the rows."""
    typed = ", ".join(
        f"{ident('v_' + c.name)}::{c.type} as {ident(c.name)}"
        if c.type != "text"
        else f"{ident('v_' + c.name)} as {ident(c.name)}"
        for c in table.columns
    )
    level = f"select t1.*, {typed} from (select s._line, {_column_values(table, staged)} from {stage} s) t1"
    bad = [f"not coalesce({rule.bad}, false)" for column in table.columns for rule in _column_rules(column, "columns")]
    return f"select * from ({level} offset 0) t2 where {' and '.join(bad)} and not {_outside(table)}"


def app_copy_where(table: AppTable, judged: Collection[str] = ()) -> str:
    """The WHERE of a COPY of source rows straight into the raw table (the app extractor's direct load): a row
    outside the window is skipped, as app_check_sql skips it, and the first row that breaks a rule stops the COPY
    with an error, so that the load falls back to staging, whose checks reject that row with its reason. Judged on
    the stored row (Rule.stored): what a type cannot read, COPY's input functions refuse themselves, and a null
    where one is required, the raw table's NOT NULL. `judged`: the kinds of rule (Rule.kind) the source has judged
    on the way. Parameters: app_check_sql's, and `%(tenants)s`, a JSON object whose keys are the known tenants.

    Each test is a plain comparison: COPY's WHERE is not planned, so a list is scanned, not hashed, and a NOT over
    comparisons may fail (`not (a between x and y)` on timestamps, Postgres 16: "cache lookup failed for function
    0")."""
    bad = " or ".join(
        f"({rule.stored})"
        for column in table.columns
        for rule in _column_rules(column, "columns")
        if rule.stored is not None and rule.kind not in judged
    )
    # SQL has no raise: a text that is no boolean, cast to one, ends the COPY with an error naming the row.
    stop = f"('breaks a rule: id ' || coalesce(quote_literal({ident('id')}), 'null'))::boolean"
    return f"case when {_outside(table)} then false when {bad} then {stop} else true end"


def app_check_sql(table: AppTable, stage: str, shape: StageShape, staged: Mapping[str, str]) -> str:
    """The checked rows of a staging table.

    `shape` "columns": the stage has `_line` and text columns (CSV fields, database values as text); `staged` maps
    a contract column to its stage column; a contract column not staged is absent from the source. "document": the
    stage has `_line` and `_doc`, one JSON object per row (a JSONL line), parsed and judged by Postgres, column by
    column, for every object.
    """
    if shape == "document":
        texts: list[str] = []
        for column in table.columns:
            key, name = literal(column.name), column.name
            if column.type == "jsonb":
                texts.append(f"nullif(d -> {key}, 'null'::jsonb)::text as {ident('v_' + name)}")
            else:
                texts.append(f"nullif(d ->> {key}, '') as {ident('v_' + name)}")
                texts.append(f"jsonb_typeof(d -> {key}) as {ident('j_' + name)}")
        doc_error = (
            "case when d is null then 'not valid JSON: ' || "
            + _error("s._doc", "jsonb", "invalid")
            + " when jsonb_typeof(d) <> 'object' then 'not a JSON object' end"
        )
        parsed = "case when pg_input_is_valid(_doc, 'jsonb') then _doc::jsonb end as d"
        source = f"(select _line, _doc, {parsed} from {stage} offset 0) s"
        level1 = f"select s._line, s._doc, {doc_error} as _doc_error, {', '.join(texts)} from {source} offset 0"
        whens = ["when _doc_error is not null then _doc_error"]
    else:
        # Inlined (no offset 0): each expression is a nullif, cheaper to repeat than to project a level for.
        level1 = f"select s._line, {_column_values(table, staged)} from {stage} s"
        whens = []

    typed = [f"{_typed(column, ident('v_' + column.name))} as {ident(column.name)}" for column in table.columns]
    level2 = f"select t1.*, {', '.join(typed)} from ({level1}) t1"
    for column in table.columns:
        whens += [f"when {rule.bad} then {rule.reason}" for rule in _column_rules(column, shape)]
    reason = "case " + " ".join(whens) + " end"
    return f"select t2.*, {_outside(table)} as _outside, {reason} as _reason from ({level2} offset 0) t2"


def app_record_sql(table: AppTable, shape: StageShape, staged: Mapping[str, str]) -> str:
    """The row as it came, for the rejects table, over app_check_sql's output: the JSONL line, or the values."""
    if shape == "document":
        return "_doc"
    pairs = ", ".join(f"{literal(name)}, {ident('v_' + name)}" for name in table.column_names if name in staged)
    return f"json_build_object({pairs})::text"


# ------------------------------------------------------------------------------------------------ Stripe objects


def _path(root: str, field: Field) -> tuple[str, str]:
    """(jsonb expression, text expression) of a field under `root`."""
    path = literal("{" + ",".join(field.path) + "}")
    return f"({root} #> {path})", f"({root} #>> {path})"


def _field_whens(root: str, field: Field, subject: str) -> list[str]:
    """WHEN clauses for one field; `subject` is a SQL text expression naming the object (for the reason)."""
    node, text = _path(root, field)
    label = literal(f"field '{field.name}'")
    present = f"{node} is not null and jsonb_typeof({node}) <> 'null'"
    whens: list[str] = []
    if field.required:
        whens.append(f"when {node} is null then {subject} || ' has no ' || {label} || ' (expected API version shape)'")

    def bad(condition: str, problem: str) -> None:
        whens.append(f"when {present} and {condition} then {subject} || ': ' || {label} || {problem}")

    value = f"' ' || left({node}::text, 60)"
    if field.kind in ("text", "id", "currency"):
        bad(f"jsonb_typeof({node}) <> 'string'", f"{value} || ' is not a string'")
    if field.kind == "id":
        bad(f"btrim({text}) = ''", "' is empty'")
    if field.kind == "currency":
        bad(f"lower({text}) not in {_set(sorted(ISO_CURRENCIES))}", f"{value} || ' is not an ISO 4217 currency'")
    if field.allowed:
        bad(
            f"{text} not in {_set(field.allowed)}",
            f"{value} || {literal(' is not one of ' + ', '.join(field.allowed))}",
        )
    if field.kind in ("unix", "bigint", "integer"):
        pg_type = "integer" if field.kind == "integer" else "bigint"
        bad(f"not pg_input_is_valid({text}, {literal(pg_type)})", f"{value} || ' is not an integer'")
    if field.kind == "unix":
        bad(f"{text}::bigint not between 0 and {LATEST_UNIX_SECONDS}", f"{value} || ' is not a Unix time in range'")
        if field.not_future:
            bad(
                f"{text}::bigint > extract(epoch from %(ceiling)s::timestamptz)",
                f"{value} || ' is in the future (after the load''s clock plus the tolerance)'",
            )
    if field.kind == "numeric":
        bad(f"not pg_input_is_valid({text}, 'numeric')", f"{value} || ' is not a number'")
        bad(f"lower({text}) in ('nan', 'infinity', '-infinity', 'inf', '-inf')", f"{value} || ' is not finite'")
    if field.minimum is not None and field.kind in ("bigint", "integer", "numeric"):
        bad(f"{text}::numeric < {field.minimum}", f"{value} || {literal(f' is below {field.minimum}')}")
    if field.kind == "boolean":
        bad(f"jsonb_typeof({node}) <> 'boolean'", f"{value} || ' is not true or false'")
    if field.kind == "object":
        bad(f"jsonb_typeof({node}) <> 'object'", f"{value} || ' is not an object'")
    if field.kind == "list":
        bad(f"jsonb_typeof({node}) <> 'array'", f"{value} || ' is not a list'")
    return whens


def _object_reason(spec: StripeObject) -> str:
    subject = f"{literal(spec.kind + ' ')} || quote_literal(p ->> 'id')"
    whens: list[str] = []
    for field in spec.fields:
        whens += _field_whens("p", field, subject)
    if spec.line_fields:
        line_subject = f"{subject} || ': line ' || l.n"
        line_whens = ["when jsonb_typeof(l.v) <> 'object' then " + line_subject + " || ' is not an object'"]
        for field in spec.line_fields:
            line_whens += _field_whens("l.v", field, line_subject)
        elements = "case when jsonb_typeof(p #> '{lines,data}') = 'array' then p #> '{lines,data}' else '[]' end"
        first_bad = (
            f"(select r from (select l.n, case {' '.join(line_whens)} end as r"
            f" from jsonb_array_elements({elements}) with ordinality as l(v, n)) x"
            " where r is not null order by n limit 1)"
        )
        whens.append(f"when {first_bad} is not null then {first_bad}")
    return ("case " + " ".join(whens) + " end") if whens else "null::text"


def stripe_check_sql(stage: str, expected_kind: str | None) -> str:
    """Checked objects of a staging table (`ord`, `where_` reason prefix, `payload` text, `payload_hash`).

    Output: ord, kind, table_name, id, created, payload (jsonb), payload_hash, is_deleted, record, prefix, reason.
    """
    kinds = sorted(STRIPE_OBJECTS)
    by_kind = " ".join(f"when {literal(kind)} then {_object_reason(STRIPE_OBJECTS[kind])}" for kind in kinds)
    tables = " ".join(f"when {literal(kind)} then {literal(STRIPE_OBJECTS[kind].table)}" for kind in kinds)
    whens = [
        "when p is null then 'payload: ' || " + _error("s.record", "jsonb", "invalid"),
        "when jsonb_typeof(p) <> 'object' then 'not a JSON object'",
        "when p -> 'id' is null or jsonb_typeof(p -> 'id') = 'null' or btrim(p ->> 'id') = '' then 'missing id'",
        "when jsonb_typeof(p -> 'id') <> 'string' then 'id: a JSON ' || jsonb_typeof(p -> 'id') || ', not a string'",
    ]
    if expected_kind is not None:
        whens.append(
            f"when (p ->> 'object') is distinct from {literal(expected_kind)} then"
            f" {literal(f'expected a {expected_kind}, got object type ')}"
            " || coalesce(quote_literal(p ->> 'object'), 'none')"
        )
    whens.append(
        f"when (p ->> 'object') is null or (p ->> 'object') not in {_set(kinds)} then"
        " 'unknown object type ' || coalesce(quote_literal(p ->> 'object'), 'none')"
    )
    whens.append("when p -> 'deleted' = 'true'::jsonb then null")  # a tombstone carries id, object and deleted only
    whens.append(f"else case p ->> 'object' {by_kind} end")
    created = (
        "case when pg_input_is_valid(p ->> 'created', 'bigint') then case when (p ->> 'created')::bigint"
        f" between 0 and {LATEST_UNIX_SECONDS} then to_timestamp((p ->> 'created')::bigint) end end"
    )
    parsed = (
        f"select s.ord, s.where_, s.payload as record, s.payload_hash,"
        f" case when pg_input_is_valid(s.payload, 'jsonb') then s.payload::jsonb end as p from {stage} s"
    )
    return (
        f"select ord, p ->> 'object' as kind, case p ->> 'object' {tables} end as table_name, p ->> 'id' as id,"
        f" {created} as created, p as payload, payload_hash, coalesce(p -> 'deleted' = 'true'::jsonb, false)"
        f" as is_deleted, record, where_, case {' '.join(whens)} end as reason"
        f" from ({parsed} offset 0) s"
    )
