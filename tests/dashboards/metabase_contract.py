"""Metabase's OpenAPI request schemas (../shared/contracts/metabase), loaded to check the requests we send: the path
and method exist (`template_for`), every path and query parameter is declared and its value fits its schema, as
Metabase decodes strings (`parameter_errors`), and the body fits the request schema (`body_errors`).

Bodies are validated with jsonschema + a referencing.Registry that loads each `$ref` relative to the file it is
in (the recipe in the contract's README).

One upstream quirk needs care: `parameter_mappings[].target` is `metabase.lib.schema.parameter.target.json`, a
`oneOf` whose `legacy-field-ref` branch resolves to `metabase.legacy-mbql.schema.field.json`, a schema that
accepts any value (and the `dimension` branch is `{}`, which does too). Every concrete target is therefore
valid under more than one branch, and a strict validator rejects all of them ("is valid under each of"), the
valid ones included. So `validate_body` checks everything else in the body against the contract as it is, with
only that one target schema replaced by "anything", and `target_errors` checks the targets separately against
the branches our dashcards use: `["variable", <template-tag reference>]` (a variable) and `["dimension",
<template-tag reference>]` (a field filter of a native query; the contract's `dimension` branch is `{}`), the
reference from the contract's own `metabase.lib.schema.parameter.template-tag.json`.
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from extract.settings import PROJECT_ROOT

CONTRACT_DIR = PROJECT_ROOT.parent / "shared" / "contracts" / "metabase"
TARGET_SCHEMA = "metabase.lib.schema.parameter.target.json"


def _accepts_array(schema: dict[str, Any]) -> bool:
    branches = [schema, *schema.get("oneOf", []), *schema.get("anyOf", [])]
    return any(branch.get("type") == "array" for branch in branches)


def _resource(contents: Any) -> Resource:
    return Resource.from_contents(contents, default_specification=DRAFT202012)


class MetabaseContract:
    def __init__(self, root: Path = CONTRACT_DIR):
        self.root = root.resolve()
        self.openapi = json.loads((self.root / "openapi.json").read_text())
        self._validators: dict[tuple[str, str, bool], Draft202012Validator] = {}

    # -------------------------------------------------------------------------------------------- paths

    @cached_property
    def path_items(self) -> dict[str, dict[str, Any]]:
        """OpenAPI path template -> path item (the file its `$ref` names)."""
        items = {}
        for template, item in self.openapi["paths"].items():
            if "$ref" in item:
                items[template] = json.loads((self.root / item["$ref"]).read_text())
            else:
                items[template] = item
        return items

    @staticmethod
    def _pattern(template: str) -> re.Pattern[str]:
        escaped = re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
        return re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", escaped) + "$")

    def _matches(self, path: str) -> list[tuple[str, dict[str, str]]]:
        """(template, path parameters) of every template the path fits, literal segments first."""
        found = []
        for template in self.path_items:
            if self._pattern(template).match(path):
                parts = zip(template.split("/"), path.split("/"), strict=True)
                found.append((template, {t[1:-1]: value for t, value in parts if t.startswith("{")}))
        return sorted(found, key=lambda item: len(item[1]))

    def template_for(self, path: str, method: str | None = None) -> str | None:
        """The contract path template a concrete request path matches (`/api/card/7` -> `/api/card/{id}`): a literal
        segment wins over a parameter (`/api/collection/graph`), and with a method, the template that has it
        (`GET /api/permissions/group/{id}` but `PUT /api/permissions/group/{group-id}`)."""
        for template, _ in self._matches(path):
            if method is None or self.operation(template, method) is not None:
                return template
        return None

    def path_parameters(self, path: str, method: str) -> dict[str, str]:
        for template, values in self._matches(path):
            if self.operation(template, method) is not None:
                return values
        return {}

    def operation(self, template: str, method: str) -> dict[str, Any] | None:
        item = self.path_items.get(template)
        return item.get(method.lower()) if item else None

    def query_parameters(self, template: str, method: str) -> set[str]:
        op = self.operation(template, method) or {}
        return {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}

    # -------------------------------------------------------------------------------------------- parameters

    def _parameter_validator(self, template: str, method: str, index: int) -> Draft202012Validator:
        key = (template, f"{method.lower()}#param{index}", True)
        if key not in self._validators:
            pointer = f"#/{method.lower()}/parameters/{index}/schema"
            schema = {"$ref": self._path_file(template).as_uri() + pointer}
            self._validators[key] = Draft202012Validator(schema, registry=self._registry(False))
        return self._validators[key]

    @staticmethod
    def _coerce(text: str) -> Any:
        """A query-string or path value as Metabase's decoder reads it: true/false, numbers, else the string."""
        try:
            value = json.loads(text)
        except ValueError:
            return text
        return value if isinstance(value, bool | int | float) else text

    def parameter_errors(self, method: str, path: str, query: dict[str, list[str]]) -> list[str]:
        """Unknown query parameters, required ones missing (without a default), and every path and query value
        checked against its schema."""
        template = self.template_for(path, method)
        if template is None:
            return [f"{method} {path}: no such path and method in the contract"]
        op = self.operation(template, method) or {}
        errors = []
        declared = {p["name"]: (i, p) for i, p in enumerate(op.get("parameters", []))}
        values: dict[str, Any] = {}
        for name, raw in self.path_parameters(path, method).items():
            values[name] = self._coerce(raw)
        for name, raws in query.items():
            if name not in declared or declared[name][1].get("in") != "query":
                errors.append(f"query parameter {name!r} is not in the contract")
                continue
            coerced = [self._coerce(raw) for raw in raws]
            values[name] = (
                coerced if len(coerced) > 1 or "array" in json.dumps(declared[name][1]["schema"]) else coerced[0]
            )
        for name, (index, param) in declared.items():
            if name not in values:
                if param.get("required") and "default" not in param.get("schema", {}):
                    errors.append(f"required {param.get('in')} parameter {name!r} is missing")
                continue
            for error in self._parameter_validator(template, method, index).iter_errors(values[name]):
                errors.append(f"{param.get('in')} parameter {name}={values[name]!r}: {error.message}")
        return errors

    # -------------------------------------------------------------------------------------------- bodies

    def _registry(self, relax_target: bool) -> Registry:
        def retrieve(uri: str) -> Resource:
            path = Path(unquote(urlparse(uri).path))
            if relax_target and path.name == TARGET_SCHEMA:
                return _resource({"description": "target: checked separately (see module docstring)"})
            return _resource(json.loads(path.read_text()))

        return Registry(retrieve=retrieve)  # type: ignore[call-arg]

    def _path_file(self, template: str) -> Path:
        return self.root / self.openapi["paths"][template]["$ref"]

    def body_validator(self, template: str, method: str, *, relax_target: bool = True) -> Draft202012Validator:
        key = (template, method.lower(), relax_target)
        if key not in self._validators:
            self._validators[key] = self._new_validator(template, method, relax_target)
        return self._validators[key]

    def _new_validator(self, template: str, method: str, relax_target: bool) -> Draft202012Validator:
        pointer = f"#/{method.lower()}/requestBody/content/application~1json/schema"
        schema = {"$ref": self._path_file(template).as_uri() + pointer}
        return Draft202012Validator(schema, registry=self._registry(relax_target))

    def has_body_schema(self, template: str, method: str) -> bool:
        op = self.operation(template, method) or {}
        return "application/json" in op.get("requestBody", {}).get("content", {})

    def body_errors(self, template: str, method: str, body: Any, *, relax_target: bool = True) -> list[str]:
        """Every violation, with the nested reasons of `oneOf` / `anyOf` failures spelled out."""
        validator = self.body_validator(template, method, relax_target=relax_target)

        def flatten(error: ValidationError) -> list[str]:
            lines = [f"{'/'.join(map(str, error.absolute_path)) or '<body>'}: {error.message}"]
            for sub in error.context or []:
                lines += flatten(sub)
            return lines

        return [line for e in validator.iter_errors(body) for line in flatten(e)]

    @cached_property
    def _target_validator(self) -> Draft202012Validator:
        tag_ref = (self.root / "components" / "schemas" / "metabase.lib.schema.parameter.template-tag.json").as_uri()
        schema = {
            "type": "array",
            "minItems": 2,
            "maxItems": 2,
            "prefixItems": [{"enum": ["variable", "dimension"]}, {"$ref": tag_ref}],
        }
        return Draft202012Validator(schema, registry=self._registry(relax_target=False))

    def target_errors(self, target: Any) -> list[str]:
        errors = [e.message for e in self._target_validator.iter_errors(target)]
        # The template-tag reference itself: ["template-tag", <non-blank name>] (tag-name's own oneOf is exclusive).
        if not errors and (len(target[1]) != 2 or not isinstance(target[1][1], str)):
            errors.append(f"template-tag reference must be ['template-tag', name], got {target[1]!r}")
        return errors
