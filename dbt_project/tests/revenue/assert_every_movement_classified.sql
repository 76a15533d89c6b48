-- every customer-month with a change is classified, and each movement amount matches its type: no unknown
-- category, no month whose MRR changed while movement_type says unchanged.
select *
from {{ ref('fct_mrr_movements') }}
where movement_type is null
    or (movement_type = 'unchanged' and (starting_mrr <> ending_mrr or fx_mrr <> 0))
    or (movement_type = 'new' and new_mrr <= 0)
    or (movement_type = 'reactivation' and reactivation_mrr <= 0)
    or (movement_type = 'churn' and (churned_mrr <= 0 or churn_type is null))
    or (new_mrr > 0 and reactivation_mrr > 0)
    or (expansion_mrr > 0 and contraction_mrr > 0)
