"""The house's direction of imports (README, Layout), read from the source by an AST walk.

    drape/      imports nothing of ours
    db/         drape/
    realtime/   db/, drape/
    server/     realtime/, db/, drape/
    workers/    realtime.emit, realtime.rooms, db/, drape/
    workers/avatar/, workers/recommend/ (the numerics): drape/ and their own package only

Every import counts, also one inside a function, and no module may reach itself through others.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("drape", "db", "realtime", "server", "workers")
ALLOWED: dict[str, tuple[str, ...]] = {
    "drape": (),
    "db": ("drape",),
    "realtime": ("db", "drape"),
    "server": ("realtime", "db", "drape"),
    "workers": ("realtime.emit", "realtime.rooms", "db", "drape"),
    "workers.avatar": ("drape",),
    "workers.recommend": ("drape",),
}


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import of one of PACKAGES, relative ones resolved."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from db import posts` may import the module db.posts, `from db.posts import X` a
            # name of db.posts: both are named in full, and a prefix decides the layer.
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] in PACKAGES:
                yield node.lineno, name


def layer_of(module: str) -> str:
    """The most specific entry of ALLOWED that contains `module`."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in ALLOWED:
            return ".".join(parts[:n])
    raise AssertionError(f"{module} is in no layer")


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(root: Path) -> list[str]:
    found = []
    for path, module, imported, line in walk(root):
        layer = layer_of(module)
        if within(imported, layer) or any(within(imported, ok) for ok in ALLOWED[layer]):
            continue
        found.append(f"{path.relative_to(root)}:{line}: {module} imports {imported}")
    return found


def walk(root: Path) -> Iterator[tuple[Path, str, str, int]]:
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            module = module_name(path, root)
            source = path.read_text()
            for line, imported in imports_of(source, module, path.name == "__init__.py"):
                yield path, module, imported, line


def cycles(root: Path) -> list[list[str]]:
    modules = {module for _, module, _, _ in walk(root)} | {
        module_name(p, root) for pkg in PACKAGES for p in (root / pkg).rglob("*.py")
    }

    def resolve(name: str) -> str | None:  # `from db.posts import X` -> db.posts
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in modules}
    for _, module, imported, _ in walk(root):
        target = resolve(imported)
        # A module importing its own package's __init__ (or a package its submodule) is how
        # Python packages work, not a cycle between layers.
        if target and target != module and not within(module, target):
            graph[module].add(target)
    found: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                found.append([*stack[stack.index(n) :], n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return found


def test_imports_go_one_way() -> None:
    assert violations(ROOT) == []


def test_no_import_cycles() -> None:
    assert cycles(ROOT) == []


def test_a_forbidden_import_is_caught(tmp_path: Path) -> None:
    """The walk itself: a copy of the tree with one import against the direction fails."""
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            target = tmp_path / path.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(path.read_text())
    assert violations(tmp_path) == []
    settings = tmp_path / "drape" / "settings.py"
    settings.write_text(settings.read_text() + "\n\ndef later():\n    from server import app\n")
    numerics = tmp_path / "workers" / "avatar" / "body.py"
    numerics.write_text("from ..recommend import color\n" + numerics.read_text())
    found = violations(tmp_path)
    assert len(found) == 2, found
    assert any("drape.settings imports server.app" in f for f in found)
    assert any("workers.avatar.body imports workers.recommend.color" in f for f in found)
    assert cycles(tmp_path) != []  # drape.settings -> server.app -> ... -> drape.settings


def test_the_web_process_loads_no_numerics() -> None:
    """numpy and scipy belong to the workers: the web process must start without them."""
    code = textwrap.dedent(
        """
        import sys
        import server.app, server.__main__
        heavy = sorted(m for m in ("numpy", "scipy", "implicit") if m in sys.modules)
        print(",".join(heavy))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("module", ["drape.settings", "drape.avatar_inputs", "drape.colors"])
def test_drape_modules_import_alone(module: str) -> None:
    subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, check=True)
