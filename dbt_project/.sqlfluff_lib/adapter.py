"""dbt's `adapter` context object for sqlfluff's jinja templater (linting only; dbt provides the real one).

`adapter.dispatch(name)` picks an adapter's implementation of a macro at compile time. The linter has no adapter:
a dispatched macro renders as its first argument in parentheses, which is enough for the model around it to parse.
"""

from collections.abc import Callable


def dispatch(macro_name: str, macro_namespace: str | None = None) -> Callable[..., str]:
    def render(*args: object, **kwargs: object) -> str:
        return f"({args[0]})" if args else "null"

    return render
