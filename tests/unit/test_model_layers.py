"""Layers run downhill only: staging reads sources, intermediate reads staging and intermediate, marts read
intermediate and marts, reporting reads marts and reporting. Checked on every model file's refs, enabled or not
(a model built only with a setting, such as the personal-data ones, must obey the same rule)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from extract.settings import PROJECT_ROOT

MODELS = PROJECT_ROOT / "dbt_project" / "models"
REF = re.compile(r"""\bref\(\s*['"](\w+)['"]\s*\)""")
# What each layer may ref: a layer never reads one above it, and marts and reporting never read staging.
MAY_READ = {
    "staging": {"staging", "seed"},
    "intermediate": {"staging", "intermediate", "seed"},
    "marts": {"intermediate", "marts", "seed"},
    "reporting": {"marts", "reporting", "seed"},
}


def _layer_of_models() -> dict[str, str]:
    layers = {path.stem: path.relative_to(MODELS).parts[0] for path in MODELS.rglob("*.sql")}
    seeds = PROJECT_ROOT / "dbt_project" / "seeds"
    layers.update({path.stem: "seed" for path in seeds.rglob("*.csv")})
    return layers


def test_a_model_file_sits_in_a_known_layer() -> None:
    assert {layer for name, layer in _layer_of_models().items() if layer != "seed"} <= set(MAY_READ)


@pytest.mark.parametrize("path", sorted(MODELS.rglob("*.sql")), ids=lambda path: path.stem)
def test_refs_run_downhill(path: Path) -> None:
    layers = _layer_of_models()
    layer = path.relative_to(MODELS).parts[0]
    for name in REF.findall(path.read_text()):
        assert name in layers, f"{path.stem} refs {name}, which is no model or seed"
        assert layers[name] in MAY_READ[layer], f"{path.stem} ({layer}) refs {name} ({layers[name]})"
