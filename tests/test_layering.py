"""Import direction: a package may import only packages on lower layers (style.md section 5)."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "entronas"

# lower number = lower layer; same number = may not import each other
LAYERS = {
    "_core": 0, "targets": 1, "space": 2, "cost": 3, "reduce": 4, "proxy": 5, "sampling": 6,
    "runs": 6.5, "search": 7, "data": 8, "models": 8, "train": 9, "export": 10, "report": 10,
    "results": 10,
    "oneshot": 10,
    "cli": 11, "__init__": 11, "__main__": 11,
}


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    pkg = path.relative_to(SRC).parts
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module and node.module.startswith("entronas."):
                    yield node.module.split(".")[1]
            else:
                base = list(pkg[:-1])[: len(pkg) - node.level]
                target = base + (node.module.split(".") if node.module else [])
                if target:
                    yield target[0]
                elif node.names:
                    yield from (a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("entronas."):
                    yield a.name.split(".")[1]


def test_every_package_imports_only_lower_layers():
    bad = []
    for path in SRC.rglob("*.py"):
        own = path.relative_to(SRC).parts[0].removesuffix(".py")
        if own not in LAYERS:
            bad.append(f"{path}: package {own!r} has no layer in tests/test_layering.py")
            continue
        for dep in _imports(path):
            dep = dep.removesuffix(".py")
            if dep == own or dep not in LAYERS:
                continue
            if LAYERS[dep] >= LAYERS[own] and own not in ("cli", "__init__", "__main__"):
                bad.append(f"{path.relative_to(SRC)} imports {dep} (layer {LAYERS[dep]} >= "
                           f"{LAYERS[own]})")
    assert not bad, "\n".join(bad)


def test_search_never_imports_torch():
    for path in (SRC / "search").rglob("*.py") if (SRC / "search").exists() else []:
        assert "import torch" not in path.read_text(), path
