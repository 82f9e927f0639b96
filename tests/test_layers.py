"""Imports only run down the layers of docs/design.md: every ``import`` in lit_gen/ (at any depth,
function-local ones included) is read with ``ast`` and checked against :data:`LAYERS`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lit_gen"

#: bottom to top; a module may import its own layer and the layers below it
LAYERS = ["utils", "data", "nn", "losses", "metrics", "models", "tasks", "callbacks", "cli", "bench"]

#: a task is a vertical slice; its command and bench adapter modules sit in those layers
TASK_ROLES = {"cli": "cli", "bench": "bench"}

#: upward imports the code has for a reason (importer module, imported package)
ALLOWED = {
    # `lit-gen eval` of a checkpoint imports the model classes so the checkpoint's class resolves
    ("lit_gen.metrics.inputs", "lit_gen.models"),
}

#: Known violations that the bench wing (branch `wing`) removes by moving these bench metrics into
#: lit_gen/bench/; delete this set when it is merged. (models/gan.py reaches lit_gen.bench through
#: models/gan_metrics.py, where the GAN's bench metrics live today.)
def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str | None:
    """The layer of a lit_gen module; ``None`` for the root package (its version only: free to
    import from anywhere)."""
    parts = module.split(".")
    if len(parts) == 1:
        return None
    if parts[1] == "tasks" and len(parts) > 3 and parts[3] in TASK_ROLES:
        return TASK_ROLES[parts[3]]
    return parts[1]


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every lit_gen module named by an import anywhere in ``tree`` (``from lit_gen import x``
    counts as ``lit_gen.x``; relative imports are resolved)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join(package + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names if base == "lit_gen"}
    return {name for name in found if name == "lit_gen" or name.startswith("lit_gen.")}


def package_of(module: str) -> str:
    """``lit_gen.<package>`` (or the task role module) that ``module`` belongs to."""
    parts = module.split(".")
    if layer(module) in TASK_ROLES.values() and parts[1] == "tasks":
        return module
    return ".".join(parts[:2])


def upward_imports(package: Path = PACKAGE) -> set[tuple[str, str]]:
    """``(importer module, imported package)`` for every import of a higher layer."""
    found = set()
    for path in sorted(package.rglob("*.py")):
        module = module_name(path, package)
        source = layer(module)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for target in imported_modules(tree, module, path.name == "__init__.py"):
            wanted = layer(target)
            if source is None or wanted is None or wanted not in LAYERS:
                continue
            if source not in LAYERS:
                raise AssertionError(f"{module}: package {source!r} has no place in LAYERS (docs/design.md)")
            if LAYERS.index(wanted) > LAYERS.index(source):
                found.add((module, package_of(target)))
    return found


def test_no_lower_layer_imports_a_higher_one():
    upward = upward_imports() - ALLOWED
    assert not upward, "imports up the layers (see docs/design.md): " + ", ".join(
        f"{module} -> {target}" for module, target in sorted(upward))


def test_every_package_has_a_layer():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert packages <= set(LAYERS)


def test_the_exceptions_are_still_needed():
    """An exception that no import needs any more is deleted, so it cannot hide a new one."""
    stale = ALLOWED - upward_imports()
    assert not stale, f"no longer needed, delete: {sorted(stale)}"


@pytest.mark.parametrize("line", ["import lit_gen.bench.registry",
                                  "def f():\n    from lit_gen.models import VAE\n",
                                  "from lit_gen import callbacks",
                                  "from ..metrics import fidelity"])
def test_an_upward_import_is_caught(tmp_path, line):
    """A wrong import in a copy of a low layer (nn/) fails, also when it is function-local,
    spelled ``from lit_gen import x`` or relative."""
    (tmp_path / "lit_gen" / "nn").mkdir(parents=True)
    (tmp_path / "lit_gen" / "__init__.py").write_text("")
    (tmp_path / "lit_gen" / "nn" / "__init__.py").write_text("")
    (tmp_path / "lit_gen" / "nn" / "conv.py").write_text(line)
    assert len(upward_imports(tmp_path / "lit_gen")) == 1
