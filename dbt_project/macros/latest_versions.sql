{#-
    The latest version of each `key` in `relation`, a table of versions (the app's mutable tables: raw keeps one row
    per (id, updated_at)): each version no other version of the same key is newer than, by `moment`. Written as an
    anti join, so a filter on the result's columns reaches the versions' scan.

    `since`: an SQL expression, the earliest moment the caller needs; the latest versions of the keys with a version
    at or after it, reading only the versions at or after it on both sides of the join (a version newer than one of
    them is later still). Without it the anti join probes or hashes every version ever loaded, which grows with the
    history: a day's 3.4M job versions at scale 1 against every earlier day's.
-#}
{% macro latest_versions(relation, key='id', moment='updated_at', since=none) -%}
    select versions.*
    from {{ relation }} as versions
    where
        {% if since is not none -%}
        versions.{{ moment }} >= {{ since }}
        and {% endif -%}
        not exists (
            select 1
            from {{ relation }} as newer
            where
                newer.{{ key }} = versions.{{ key }}
                and newer.{{ moment }} > versions.{{ moment }}
                {%- if since is not none %}
                and newer.{{ moment }} >= {{ since }}
                {%- endif %}
        )
{%- endmacro %}
