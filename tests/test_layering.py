"""Imports point only downward between the package's subpackages (no method imports its trainer, no evaluation code
imports the paper layer), checked on every import statement of every module, function-local ones included."""
from __future__ import annotations

import ast
from pathlib import Path

import sam_repro

LAYERS = ("metrics", "prompts", "data", "backbones", "nn", "methods", "eval", "train", "widgets", "reproduce")
"""Subpackages from the bottom up: a module may import from its own layer and the layers below it. Root modules
(errors, files, paths, hashing, ...) sit outside the order; ``cli`` is the top."""

ROOT = Path(sam_repro.__file__).parent


def _imported_subpackages(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name.split(".")[1] for name in names if name.startswith("sam_repro.") and name.count(".") >= 1}


def upward_imports() -> list[str]:
    """``module -> subpackage`` for every import of a higher layer."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if len(parts) < 2 or parts[0] not in LAYERS:
            continue
        rank = LAYERS.index(parts[0])
        for target in _imported_subpackages(path):
            if target in LAYERS and LAYERS.index(target) > rank:
                found.append(f"{path.relative_to(ROOT)} -> sam_repro.{target}")
    return found


def test_no_module_imports_a_higher_layer() -> None:
    assert upward_imports() == []


def test_the_check_sees_a_function_local_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from sam_repro.reproduce.results import ResultRow\n    import sam_repro.train.ppo\n")
    assert _imported_subpackages(module) == {"reproduce", "train"}
