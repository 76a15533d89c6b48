"""Metabase's OpenAPI request schemas (../shared/contracts/metabase), loaded for request-body checks.

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

    def template_for(self, path: str) -> str | None:
        """The contract path template a concrete request path matches (`/api/card/7` -> `/api/card/{id}`)."""
        for template in self.path_items:
            pattern = "^" + re.sub(r"\{[^}]+\}", r"[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}"))
            if re.match(pattern + "$", path):
                return template
        return None

    def operation(self, template: str, method: str) -> dict[str, Any] | None:
        item = self.path_items.get(template)
        return item.get(method.lower()) if item else None

    def query_parameters(self, template: str, method: str) -> set[str]:
        op = self.operation(template, method) or {}
        return {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}

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
