"""The import rules of the package, checked on the source (every import, the lazy ones inside
functions included), so a new dependency across the boundary fails here, not on a user's
base install:

- torch-free: inference/, evaluation/, data/, monitor/, profiling/ and the top-level modules below
  never import torch, engine/ or models/ (models are PyTorch modules);
- layers: data/, codec, schemes, card never import inference/, evaluation/ or cli; evaluation/
  never imports inference/; inference/ and monitor/ never import profiling/; schemes imports only
  errors, and errors nothing of the package.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "litehrnet_plus"
TORCH_FREE_PACKAGES = ("inference", "evaluation", "data", "monitor", "profiling")
# the package root is left out: its lazy `create_model` attribute is the documented way into
# models/ (timm's API) and imports nothing until it is used
TORCH_FREE_MODULES = ("codec", "codecs", "schemes", "card", "resolve", "hub", "fileio", "errors", "extras")
FORBIDDEN_FOR_TORCH_FREE = ("torch", "torchvision", "litehrnet_plus.engine", "litehrnet_plus.models")
LOWER_LAYERS = {"data": ("litehrnet_plus.inference", "litehrnet_plus.evaluation", "litehrnet_plus.cli"),
                "codec": ("litehrnet_plus.inference", "litehrnet_plus.evaluation", "litehrnet_plus.cli",
                          "litehrnet_plus.data"),
                "codecs": ("litehrnet_plus.inference", "litehrnet_plus.evaluation", "litehrnet_plus.cli",
                           "litehrnet_plus.data"),
                "card": ("litehrnet_plus.inference", "litehrnet_plus.evaluation", "litehrnet_plus.cli",
                         "litehrnet_plus.data"),
                "evaluation": ("litehrnet_plus.inference", "litehrnet_plus.cli"),
                # the runtime never needs the training-data tools
                "inference": ("litehrnet_plus.profiling",),
                "monitor": ("litehrnet_plus.profiling",)}


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, module: str | None = None) -> set[str]:
    """Absolute names of every module imported anywhere in the file (`module`: its dotted
    name, by default from its place in the package)."""
    tree = ast.parse(path.read_text(), str(path))
    here = (module or module_name(path)).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)   # `from . import engine`
    return found


def files(kind: str) -> list[Path]:
    if kind in TORCH_FREE_MODULES:
        return [PKG / f"{kind}.py"]
    return sorted((PKG / kind).rglob("*.py"))


def violations(paths: list[Path], forbidden: tuple[str, ...], module: str | None = None) -> list[str]:
    bad = []
    for p in paths:
        for name in sorted(imports_of(p, module)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{p.name} imports {name}")
    return bad


@pytest.mark.parametrize("kind", TORCH_FREE_PACKAGES + TORCH_FREE_MODULES)
def test_torch_free_code_never_imports_torch_engine_or_models(kind):
    assert files(kind), kind
    assert violations(files(kind), FORBIDDEN_FOR_TORCH_FREE) == []


@pytest.mark.parametrize("kind", sorted(LOWER_LAYERS))
def test_lower_layers_do_not_import_upper_ones(kind):
    assert violations(files(kind), LOWER_LAYERS[kind]) == []


def test_schemes_import_only_the_errors_and_errors_nothing():
    own = lambda p: {n for n in imports_of(p) if n.startswith("litehrnet_plus")}  # noqa: E731
    assert own(PKG / "schemes.py") <= {"litehrnet_plus.errors", "litehrnet_plus.errors.UnknownNameError"}
    assert own(PKG / "errors.py") == set()


def test_the_scanner_sees_lazy_and_relative_imports(tmp_path):
    """The checker itself: an import hidden in a function, relative or absolute, is found."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from ..engine import train\n    import torch.nn\n")
    found = imports_of(probe, "litehrnet_plus.inference.probe")
    assert "litehrnet_plus.engine" in found and "litehrnet_plus.engine.train" in found and "torch.nn" in found
    assert len(violations([probe], FORBIDDEN_FOR_TORCH_FREE, "litehrnet_plus.inference.probe")) >= 2
