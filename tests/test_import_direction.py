"""Imports flow one way (issue 14): run script and quick_start -> config/utils -> model -> data -> compat; generate ->
data, config and model-free helpers, never the reverse ("no LLM at inference": a model never reaches the generator).
"""

import ast
import json
import pathlib
import subprocess
import sys

import pytest

import recbole_intent

PACKAGE = pathlib.Path(recbole_intent.__file__).resolve().parent
STAGE_1 = ("recbole_intent.generate", "recbole_intent.testing")
# What importing a layer may load of our package, besides the layer itself (the layers below it).
BELOW = {
    "recbole_intent.data": ("recbole_intent.compat", "recbole_intent.errors"),
    "recbole_intent.model": ("recbole_intent.compat", "recbole_intent.errors", "recbole_intent.data"),
}
ABOVE_MODEL = ("recbole_intent.config", "recbole_intent.utils", "recbole_intent.checks", "recbole_intent.trainer",
               "recbole_intent.quick_start", "recbole_intent.explain", *STAGE_1)


def loaded_by(module):
    """Our modules in sys.modules after ``import module`` in a fresh interpreter."""
    code = f"import json, sys, {module}; print(json.dumps(sorted(m for m in sys.modules if m.startswith('recbole_'))))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.splitlines()[-1])


def under(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("module", ["recbole_intent.model", "recbole_intent.config", "recbole_intent.data"])
def test_models_config_and_data_load_no_generator(module):
    loaded = loaded_by(module)
    assert module in loaded
    assert [m for m in loaded if under(m, STAGE_1)] == []


@pytest.mark.parametrize("layer", sorted(BELOW))
def test_data_and_model_load_only_the_layers_below(layer):
    loaded = [m for m in loaded_by(layer) if m != "recbole_intent"]
    assert [m for m in loaded if not under(m, (layer, *BELOW[layer]))] == []


def imports_of(path):
    """(imported module, imported name or None) for every import in the file, function-level ones included."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield from ((node.module, a.name) for a in node.names)
        elif isinstance(node, ast.Import):
            yield from ((a.name, None) for a in node.names)


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_module_outside_stage_1_imports_it_even_lazily():
    wrong = [(module_name(p), mod) for p in PACKAGE.rglob("*.py") if not under(module_name(p), STAGE_1)
             for mod, name in imports_of(p) if under(mod, STAGE_1) or under(f"{mod}.{name}", STAGE_1)]
    assert wrong == []


def test_model_and_data_import_nothing_above_them_even_lazily():
    above = {"model": ABOVE_MODEL, "data": (*ABOVE_MODEL, "recbole_intent.model")}
    wrong = [(module_name(p), mod) for layer in above for p in (PACKAGE / layer).rglob("*.py")
             for mod, _ in imports_of(p) if under(mod, above[layer])]
    assert wrong == []


def test_no_module_imports_another_modules_private_names():
    wrong = [(module_name(p), mod, name) for p in PACKAGE.rglob("*.py") for mod, name in imports_of(p)
             if mod.startswith("recbole_intent") and name and name.startswith("_") and mod != module_name(p)]
    assert wrong == []
