"""dbt's `target` context object for sqlfluff's jinja templater (linting only): the models are linted as Postgres."""

type = "postgres"  # noqa: A001 - dbt's attribute name
name = "warehouse"
schema = "marts"
