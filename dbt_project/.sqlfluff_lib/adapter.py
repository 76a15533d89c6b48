"""dbt's `adapter` context object for sqlfluff's jinja templater (linting only; dbt provides the real one).

`adapter.dispatch(name)` picks an adapter's implementation of a macro at compile time. The linter has no adapter:
a dispatched macro renders as its first argument in parentheses, which is enough for the model around it to parse,
except where that would not parse: a type name (macros/engine.sql `*_type`) renders as `text`, a FROM item or
join (series, join_json_*, join_rows) as a one-row generate_series under the alias it was given, and a macro
given a list of expressions first (compact_array, format_text's arguments come second) as null.
"""

from collections.abc import Callable


def dispatch(macro_name: str, macro_namespace: str | None = None) -> Callable[..., str]:
    def render(*args: object, **kwargs: object) -> str:
        if macro_name.endswith("_type"):
            return "text"
        if macro_name == "series":
            return f"generate_series(1, 1) as {args[2]}"
        if macro_name.startswith("join_json_") or macro_name == "join_rows":
            return f"cross join lateral generate_series(1, 1) as {args[1]}"
        if args and isinstance(args[0], list):
            return "null"
        return f"({args[0]})" if args else "null"

    return render
