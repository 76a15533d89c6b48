"""The dashboard specs: they load and follow the rules (read only the reporting layer, filters wired to the cards
that use them, field filters as whole conditions, clicks that open dashboards that exist). That every card's SQL runs
and returns the columns its settings name is tests/reporting/test_cards.py, on a demo-sized warehouse."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dashboards.metabase.apply import card_payload, dashboard_parameters, dashcards_payload
from dashboards.spec import (
    SpecError,
    column_names,
    documented_tables,
    load_specs,
    output_aliases,
    reporting_tables,
    sql_problems,
    table_refs,
)

EXPECTED = {
    "executive_overview",
    "product_engagement",
    "operations",
    "billing_health",
    "tenant_detail",
    "mrr_movements",
}


def test_the_dashboards_exist_and_load(specs):
    assert {s.key for s in specs} == EXPECTED
    for spec in specs:
        assert spec.cards and spec.parameters


def test_card_names_are_unique_across_dashboards(specs):
    names = [c.name for s in specs for c in s.cards]
    assert len(names) == len(set(names))


def test_every_parameter_is_mapped_to_every_card_that_uses_its_tag(specs):
    for spec in specs:
        card_ids = {c.name: i + 1 for i, c in enumerate(spec.cards)}
        dashcards = {dc["card_id"]: dc for dc in dashcards_payload(spec, card_ids, {})}
        param_ids = {p["id"] for p in dashboard_parameters(spec)}
        for card in spec.cards:
            payload = card_payload(card, spec, database_id=2, collection_id=3)
            tags = payload["dataset_query"]["native"]["template-tags"]
            mapped = {m["parameter_id"] for m in dashcards[card_ids[card.name]]["parameter_mappings"]}
            # every tag the SQL uses is declared on the card and wired to the dashboard filter of that name
            assert set(tags) == set(card.tags) == mapped, card.name
            assert mapped <= param_ids
            params = {p.slug: p for p in spec.parameters}
            for name, tag in tags.items():
                if params[name].is_field_filter:  # an empty field filter is `1 = 1`: never required
                    assert tag["type"] == "dimension" and not tag["required"], (card.name, name)
                elif name in card.required_tags:
                    assert tag["required"] and "default" in tag, (card.name, name)
        for param in spec.parameters:
            assert spec.cards_using(param.slug), f"{spec.key}: filter {param.slug} drives no card"


def test_the_tenant_filter_is_a_dropdown_of_names_on_every_dashboard(specs):
    for spec in specs:
        tenant = next(p for p in spec.parameters if p.slug == "tenant")
        assert tenant.field is not None and (tenant.field.table, tenant.field.column) == ("rpt_tenants", "tenant_name")
        assert tenant.default == "All tenants" and tenant.tag_type == "dimension"
        with_tenant = [c.name for c in spec.cards if "tenant" in c.tags]
        assert len(with_tenant) >= len(spec.cards) - 6, spec.key  # company-wide cards: runway, CAC, cohorts, funnel


def test_trend_cards_have_a_granularity_and_tiles_a_comparison(specs):
    for spec in specs:
        params = {p.slug: p for p in spec.parameters}
        for card in spec.cards:
            if "rpt_kpi_periods" in reporting_tables(card.sql):
                assert "granularity" in card.tags, (spec.key, card.name)
                assert params["granularity"].values == ["day", "week", "month"]
            if card.display == "smartscalar" and card.visualization.get("scalar.comparisons"):
                assert "compare_to" in card.tags, (spec.key, card.name)
    executive = next(s for s in specs if s.key == "executive_overview")
    assert {"plan", "segment"} <= {p.slug for p in executive.parameters}


def test_tables_of_tenants_open_the_tenant_dashboard_and_the_bridge_its_month(specs):
    for spec in specs:
        for card in spec.cards:
            if card.display == "table" and "tenant_name" in column_names(card.sql) | output_aliases(card.sql):
                if spec.key == "tenant_detail":
                    continue  # already the tenant's dashboard
                assert [(c.dashboard, c.column) for c in card.click] == [("tenant_detail", "tenant_name")], card.name
    executive = next(s for s in specs if s.key == "executive_overview")
    bridge = next(c for c in executive.cards if c.name == "MRR bridge")
    (click,) = bridge.click
    assert click.dashboard == "mrr_movements" and click.column is None
    assert click.sources() == [("month", "column", "month"), ("tenant", "parameter", "tenant")]


def test_sql_reads_only_the_reporting_layer(specs):
    for spec in specs:
        for card in spec.cards:
            assert sql_problems(card.sql) == [], card.name
            assert reporting_tables(card.sql), card.name


def test_column_extraction_understands_aliases_and_ctes():
    sql = """
        with recent as (select metric_date, dau from reporting.fct_daily_metrics where tenant_id = {{tenant}})
        select r.metric_date, sum(r.dau) as total_dau, 'not_a_column' as label
        from recent as r
        join reporting.fct_revenue_monthly m on m.month = r.metric_date  -- comment_word
        [[where r.metric_date >= {{start_date}}]]
        group by r.metric_date
        order by total_dau desc
    """
    assert column_names(sql) == {"metric_date", "dau", "tenant_id", "month", "total_dau"}
    assert output_aliases(sql) >= {"total_dau", "label", "r"}
    assert ("recent", "r") in table_refs(sql)
    assert reporting_tables(sql) == {"fct_daily_metrics", "fct_revenue_monthly"}


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("select * from raw.app_users", "may only read reporting"),
        ("select * from marts.fct_daily_metrics join reporting.rpt_tenants on true", "may only read reporting"),
        ("select 1", "reads no reporting table"),
        ("select * from reporting.rpt_tenants; drop table reporting.rpt_tenants", "more than one statement"),
        ("delete from reporting.rpt_tenants", "read-only"),
    ],
)
def test_sql_rules_reject(sql, problem):
    assert any(problem in p for p in sql_problems(sql)), sql_problems(sql)


BASE = """
name: Test dashboard
parameters:
  - {slug: tenant, name: Tenant, type: string/=, default: __all__}
  - {slug: start_date, name: From, type: date/single}
cards:
  - name: One
    display: scalar
    layout: {row: 0, col: 0, size_x: 6, size_y: 3}
    sql: select dau from reporting.rpt_kpi_periods where tenant_id = {{tenant}} [[and period_start >= {{start_date}}]]
"""

FIELD = """
name: Field dashboard
parameters:
  - {slug: tenant, name: Tenant, type: string/=, default: All tenants, field: {table: rpt_tenants, column: tenant_name}}
  - {slug: grain, name: Granularity, type: category, default: month, values: [day, month]}
cards:
  - name: Tiles
    display: table
    layout: {row: 0, col: 0, size_x: 6, size_y: 3}
    sql: |
      select k.mrr, rpt_tenants.tenant_name from reporting.rpt_kpi_periods as k
      join reporting.rpt_tenants on rpt_tenants.tenant_id = k.tenant_id
      where {{tenant}} and k.grain = {{grain}}
    click:
      - {dashboard: field_dash, column: tenant_name, parameters: {tenant: tenant_name, grain: '{{grain}}'}}
"""


def _write(tmp_path: Path, text: str, name: str = "test_dash.yml") -> Path:
    (tmp_path / name).write_text(textwrap.dedent(text))
    return tmp_path


def test_minimal_spec_loads(tmp_path):
    (spec,) = load_specs(_write(tmp_path, BASE))
    assert spec.key == "test_dash" and spec.cards[0].tags == ["tenant", "start_date"]
    assert spec.cards[0].required_tags == {"tenant"}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t + t[t.index("  - name: One") :], "used twice"),
        (lambda t: t.replace("{{start_date}}]]", "{{end_date}}]]"), "not a dashboard parameter"),
        (
            lambda t: t.replace("[[and period_start >= {{start_date}}]]", "and period_start >= {{start_date}}"),
            "needs a default",
        ),
        (lambda t: t.replace("[[and period_start >= {{start_date}}]]", ""), "used by no card"),
        (lambda t: t.replace("reporting.rpt_kpi_periods", "marts.fct_daily_metrics"), "may only read reporting"),
        (lambda t: t.replace("display: scalar", "display: pivot"), r"GUI \(MBQL\)"),
        (lambda t: t.replace("col: 0, size_x: 6", "col: 20, size_x: 6"), "24-column grid"),
        (lambda t: t.replace("type: date/single", "type: date/relative"), "type"),
        (lambda t: t.replace("name: Test dashboard", "name: Test dashboard\nowner: me"), "Extra inputs"),
    ],
)
def test_spec_rules(tmp_path, edit, message):
    with pytest.raises(SpecError, match=message):
        load_specs(_write(tmp_path, edit(BASE)))


def test_overlapping_cards_are_rejected(tmp_path):
    text = BASE + BASE[BASE.index("  - name: One") :].replace("name: One", "name: Two").replace("col: 0,", "col: 3,")
    with pytest.raises(SpecError, match="overlaps"):
        load_specs(_write(tmp_path, text))


def test_card_names_must_be_unique_across_files(tmp_path):
    _write(tmp_path, BASE, "a.yml")
    _write(tmp_path, BASE.replace("Test dashboard", "Other"), "b.yml")
    with pytest.raises(SpecError, match="more than one dashboard"):
        load_specs(tmp_path)


def test_only_filters_by_key_or_name(tmp_path):
    _write(tmp_path, BASE, "a.yml")
    _write(tmp_path, BASE.replace("Test dashboard", "Other").replace("name: One", "name: Uno"), "b.yml")
    assert [s.key for s in load_specs(tmp_path, only=["b"])] == ["b"]
    assert [s.key for s in load_specs(tmp_path, only=["test dashboard"])] == ["a"]
    with pytest.raises(SpecError, match="no dashboard spec named"):
        load_specs(tmp_path, only=["nope"])


def test_a_tenants_dashboards_keep_only_cards_on_tenant_tables(specs):
    from dashboards.spec import for_tenant

    marts = documented_tables()
    with_tenant = {name for name, columns in marts.items() if "tenant_id" in columns}
    kept_total = 0
    for spec in specs:
        tenant_spec = for_tenant(spec, "ten_7", marts)
        kept = [] if tenant_spec is None else tenant_spec.cards
        dropped = [card for card in spec.cards if card not in kept]
        assert all(reporting_tables(card.sql) <= with_tenant for card in kept)
        assert all(not reporting_tables(card.sql) <= with_tenant for card in dropped)
        if tenant_spec is not None:
            assert {p.slug: p.default for p in tenant_spec.parameters}.get("tenant") in ("ten_7", None)
        kept_total += len(kept)
    assert kept_total > 10
    for bad in ("__all__", "__unassigned__", "a b", "x;drop", ""):
        with pytest.raises(SpecError):
            for_tenant(specs[0], bad, marts)


def test_a_field_filter_spec_loads_with_its_click(tmp_path):
    (spec,) = load_specs(_write(tmp_path, FIELD, "field_dash.yml"))
    tenant = spec.parameters[0]
    assert tenant.tag_type == "dimension" and tenant.field is not None
    assert tenant.field.sql == '"reporting"."rpt_tenants"."tenant_name"'
    assert spec.cards[0].required_tags == {"tenant", "grain"}  # a field filter needs no default: empty is 1 = 1


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("where {{tenant}}", "where rpt_tenants.tenant_name = {{tenant}}"), "whole condition"),
        (
            lambda t: t.replace("join reporting.rpt_tenants on rpt_tenants", "join reporting.rpt_tenants t on t"),
            "alias",
        ),
        (lambda t: t.replace("dashboard: field_dash", "dashboard: nowhere"), "no such dashboard"),
        (lambda t: t.replace("{tenant: tenant_name, grain", "{tenant: tenant_name, gran"), "has no filter"),
        (lambda t: t.replace("grain: '{{grain}}'", "grain: '{{nope}}'"), "not a filter"),
        (lambda t: t.replace("default: month, values", "default: week, values"), "not one of its values"),
        (lambda t: t.replace("column: tenant_name, parameters", "parameters"), "names the column"),
    ],
)
def test_field_filter_and_click_rules(tmp_path, edit, message):
    with pytest.raises(SpecError, match=message):
        load_specs(_write(tmp_path, edit(FIELD), "field_dash.yml"))
