"""The KPI tiles of the board pack: where each number lives in the marts and its one-line definition.

Definitions follow docs/METRICS.md; `sources` lists (mart, candidate columns) best first, and `discover` names
columns specific enough to be looked up in any mart (for metrics whose home mart is still being decided).
Rates and ratios are stored as fractions (0.043 = 4.3%).
"""

from __future__ import annotations

from dataclasses import dataclass

REVENUE = "revenue"
PRODUCT = "product"


@dataclass(frozen=True)
class KpiSpec:
    key: str
    label: str
    kind: str  # money | pct | count | ratio | months | ms
    group: str  # revenue | product (names the marts in "n/a — revenue marts not built")
    definition: str
    sources: tuple[tuple[str, tuple[str, ...]], ...]
    discover: tuple[str, ...] = ()
    higher_is_better: bool = True
    # Only rows where this boolean column is true count (e.g. activation windows that have closed).
    require_true: str | None = None


REVENUE_MONTHLY = "fct_revenue_monthly"
DAILY_METRICS = "fct_daily_metrics"
MRR_MOVEMENTS = "fct_mrr_movements"
COHORT_RETENTION = "fct_cohort_retention"
METRIC_ALERTS = "fct_metric_alerts"


def _rev(*cols: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return ((REVENUE_MONTHLY, cols),)


def _prod(*cols: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return ((DAILY_METRICS, cols),)


KPIS: tuple[KpiSpec, ...] = (
    KpiSpec(
        "mrr", "MRR", "money", REVENUE,
        "Monthly recurring revenue at month end: active subscriptions normalised to one month, after discounts, "
        "in the reporting currency, under the revenue policy on the cover.",
        _rev("mrr", "ending_mrr", "mrr_amount", "mrr_minor", "ending_mrr_minor"),
    ),
    KpiSpec(
        "arr", "ARR", "money", REVENUE,
        "Annual run rate: month-end MRR × 12.",
        _rev("arr", "arr_amount", "arr_minor"),
    ),
    KpiSpec(
        "nrr", "NRR", "pct", REVENUE,
        "Net revenue retention in the month: (starting MRR + expansion − contraction − churned MRR) "
        "÷ starting MRR.",
        _rev("nrr", "net_revenue_retention"), discover=("net_revenue_retention",),
    ),
    KpiSpec(
        "grr", "GRR", "pct", REVENUE,
        "Gross revenue retention in the month: (starting MRR − contraction − churned MRR) ÷ starting MRR.",
        _rev("grr", "gross_revenue_retention"), discover=("gross_revenue_retention",),
    ),
    KpiSpec(
        "paying_customers", "Paying customers", "count", REVENUE,
        "Customers with MRR above zero at month end.",
        _rev("paying_customers", "customers", "active_customers", "customer_count"), discover=("paying_customers",),
    ),
    KpiSpec(
        "arpa", "ARPA", "money", REVENUE,
        "Average revenue per account: month-end MRR ÷ paying customers.",
        _rev("arpa", "arpa_minor"), discover=("arpa",),
    ),
    KpiSpec(
        "customer_churn_rate", "Customer churn rate", "pct", REVENUE,
        "Customers churned in the month ÷ paying customers at the start of the month.",
        _rev("customer_churn_rate", "logo_churn_rate", "churn_rate"), discover=("customer_churn_rate",),
        higher_is_better=False,
    ),
    KpiSpec(
        "quick_ratio", "Quick ratio", "ratio", REVENUE,
        "(New + expansion + reactivation MRR) ÷ (contraction + churned MRR) in the month; above 4 is strong.",
        _rev("quick_ratio", "mrr_quick_ratio"), discover=("quick_ratio",),
    ),
    KpiSpec(
        "runway", "Runway", "months", REVENUE,
        "Months of cash left: month-end cash balance ÷ trailing 3-month average net burn (operating expenses "
        "− net cash collected); n/a when not burning.",
        (("fct_finance_monthly", ("runway_months",)), (REVENUE_MONTHLY, ("runway_months",))),
        discover=("runway_months",),
    ),
    KpiSpec(
        "dau", "DAU", "count", PRODUCT,
        "Daily active users: distinct counted users with at least one event on the day (staff, deleted users "
        "and internal tenants excluded).",
        _prod("dau"),
    ),
    KpiSpec(
        "wau", "WAU", "count", PRODUCT,
        "Weekly active users: distinct users active in the rolling 7 days ending on the day.",
        _prod("wau"),
    ),
    KpiSpec(
        "mau", "MAU", "count", PRODUCT,
        "Monthly active users: distinct users active in the rolling 30 days ending on the day.",
        _prod("mau"),
    ),
    KpiSpec(
        "dau_mau", "DAU/MAU", "pct", PRODUCT,
        "Stickiness: DAU ÷ MAU on the day.",
        _prod("dau_mau_ratio"),
    ),
    KpiSpec(
        "activation_rate", "Activation rate", "pct", PRODUCT,
        "Users who signed up on the day and reached activation within the activation window ÷ sign-ups "
        "(latest day whose window has closed).",
        _prod("activation_rate"), require_true="activation_window_complete",
    ),
    KpiSpec(
        "job_success_rate", "Job success rate", "pct", PRODUCT,
        "Jobs that succeeded ÷ jobs that finished (succeeded or failed) on the day; cancelled jobs excluded.",
        _prod("jobs_success_rate", "job_success_rate"),
    ),
    KpiSpec(
        "api_p95", "API p95 latency", "ms", PRODUCT,
        "95th percentile duration of API requests on the day (interpolated percentile_cont).",
        _prod("api_p95_latency_ms", "api_latency_p95_ms"), higher_is_better=False,
    ),
)  # fmt: skip

KPI_BY_KEY = {k.key: k for k in KPIS}

# MRR movement buckets in chart order: (key, label, sign on the chart, column candidates for wide marts).
MOVEMENT_BUCKETS: tuple[tuple[str, str, int, tuple[str, ...]], ...] = (
    ("new", "New", 1, ("new_mrr", "mrr_new", "new")),
    ("expansion", "Expansion", 1, ("expansion_mrr", "mrr_expansion", "expansion")),
    ("reactivation", "Reactivation", 1, ("reactivation_mrr", "mrr_reactivation", "reactivation")),
    ("contraction", "Contraction", -1, ("contraction_mrr", "mrr_contraction", "contraction")),
    ("churn", "Churn", -1, ("churned_mrr", "churn_mrr", "mrr_churn", "churn", "churned")),
    ("fx", "Currency", 0, ("fx_mrr", "currency_mrr", "fx_movement_mrr", "currency_movement_mrr")),
)
