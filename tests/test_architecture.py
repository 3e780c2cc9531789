"""The floors: serve is the base, export sits on serve, distill on both, the bench wing on all three.
No import runs back up.

Every module's imports are read with ``ast`` (imports inside functions count too), so a lazy
``from export... import`` hidden in a serve function fails here as surely as a top-level one.
The verb table's ``"package.module:function"`` strings are not imports: they are the one
sanctioned way the console script reaches the upper floors.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FLOORS = ("serve", "export", "distill", "bench")  # each may import only those before it
FORBIDDEN = {package: set(FLOORS[FLOORS.index(package) + 1:]) for package in FLOORS}


def imported_modules(source: str, module: str) -> set[str]:
    """Names of every module ``source`` (the module named ``module``) imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # A relative import cannot leave its top-level package, so it counts as that package.
            found.add(module.split(".")[0] if node.level else node.module)
    return found


def violations(source: str, module: str) -> list[str]:
    package = module.split(".")[0]
    return sorted(f"{module} imports {name}" for name in imported_modules(source, module)
                  if name.split(".")[0] in FORBIDDEN.get(package, ()))


def package_modules() -> dict[str, Path]:
    modules = {}
    for package in FLOORS:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def test_no_import_runs_back_up():
    modules = package_modules()
    assert {"serve.cli.verbs", "export.export_model", "distill.sample"} <= set(modules)
    found = [v for name, path in modules.items() for v in violations(path.read_text(), name)]
    assert not found, "imports that run back up a floor:\n" + "\n".join(found)


@pytest.mark.parametrize("module, source, bad", [
    ("serve.apps.x", "def f():\n    from export.export_model import run\n", ["serve.apps.x imports export.export_model"]),
    ("serve.core.x", "import distill.sample as s\n", ["serve.core.x imports distill.sample"]),
    ("export.x", "from distill import plots\n", ["export.x imports distill"]),
    ("serve.apps.x", "from ..core import errors\n", []),
    ("distill.x", "from export.gates import run_gates\nfrom serve.core import errors\n", []),
    ("export.x", "from serve.store.registry import load_registry\n", []),
])
def test_the_check_catches_what_it_should(module, source, bad):
    assert violations(source, module) == bad


def test_serve_has_no_loose_modules():
    """Every serve module lives in the sub-package that names its job (core, data, store, engines, apps, cli)."""
    loose = sorted(p.name for p in (REPO / "serve").glob("*.py") if p.name != "__init__.py")
    assert not loose, f"modules outside serve's sub-packages: {loose}"


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (``from pkg import mod`` counts as importing ``pkg.mod``)."""
    modules = package_modules()
    graph = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            edges.update(t for t in targets if t in modules and t != name)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``graph``: strongly connected groups of two or more modules (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle():
    # Imports inside functions count: a lazy import that closes a circle hides it, it does not remove it.
    assert cycles(import_graph()) == []


def test_the_circle_check_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
