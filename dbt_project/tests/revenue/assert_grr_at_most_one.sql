-- gross revenue retention can never exceed 100 %, and NRR / GRR are never negative.
select month, tenant_id, grr, nrr
from {{ ref('fct_revenue_monthly') }}
where grr > 1 or grr < 0 or nrr < 0
