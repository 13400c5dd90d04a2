"""The package's import graph has no cycle.

Every ``import colliderflow.x`` and ``from colliderflow.x import y`` (and relative imports) in
every module under ``src/colliderflow`` counts, wherever it sits: module level, inside a
function, or under ``if TYPE_CHECKING:``.
"""

import ast
from pathlib import Path

SRC = Path(__file__).parents[2] / "src"
PACKAGE = "colliderflow"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted((SRC / PACKAGE).rglob("*.py"))}


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules that module ``name`` imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, one level up per extra dot
                anchor = package.rsplit(".", node.level - 1)[0]
                base = f"{anchor}.{base}" if base else anchor
            # "from pkg import sub" imports the module pkg.sub when there is one, else a name of pkg
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in modules)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports, for every module of the package."""
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_graph_sees_every_kind_of_import(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "import colliderflow.a\n"
        "from colliderflow import b\n"
        "from colliderflow.c import name\n"
        "from . import d\n"
        "from ..e import name\n"
        "if TYPE_CHECKING:\n"
        "    from colliderflow.f import Name\n"
        "def later():\n"
        "    from colliderflow.g import name\n"
        "    import numpy\n"
    )
    modules = {f"colliderflow.{m}": source for m in "abcfg"} | {
        "colliderflow": source, "colliderflow.pkg.d": source, "colliderflow.e": source}
    found = _imports("colliderflow.pkg.mod", source, modules)
    assert found == {"colliderflow.a", "colliderflow.b", "colliderflow.c", "colliderflow.pkg.d", "colliderflow.e",
                     "colliderflow.f", "colliderflow.g"}


def test_graph_of_the_package():
    graph = import_graph()
    assert "colliderflow.simulate.calorimeter" in graph["colliderflow.simulate.detector"]
    assert "colliderflow.simulate.calo_config" in graph["colliderflow.simulate.card"]


def test_cycle_finder():
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    """No cycle anywhere in the package (the calorimeter and its showers used to import each other)."""
    cycles = import_cycles(import_graph())
    assert not cycles, f"import cycles: {cycles}"


def test_ground_floor_imports_no_stage():
    """The ground floor imports no stage: ``utils`` only itself, the shared vocabulary ``schema`` only ``utils``."""
    allowed = {"utils": {"utils"}, "schema": {"schema", "utils"}}
    for name, imported in import_graph().items():
        floor = name.split(".")[1] if "." in name else None
        if floor in allowed:
            stages = sorted(m for m in imported if m.split(".")[1] not in allowed[floor])
            assert not stages, f"{name} imports {stages}"
