"""The project's import graph, read from the source (every import, function-level ones included,
since a cycle hidden in a function is still a cycle), and the uses of another module's private
names. tests/test_layering.py turns both into failures."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


def project_modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under the given top-level packages."""
    found: dict[str, Path] = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _imported(tree: ast.AST, module: str, path: Path) -> Iterator[tuple[str, ast.alias, bool, int]]:
    """(module named, its alias, whether it is `from module import alias`, line) for every import."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, alias, False, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = _package_of(module, path).split(".")
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join([*pkg, base] if base else pkg)
            for alias in node.names:
                yield base, alias, True, node.lineno


def imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (`from p import m` counts as importing p.m when m
    is a module, else p)."""
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        deps: set[str] = set()
        for base, alias, is_from, _ in _imported(ast.parse(path.read_text(encoding="utf-8")), module, path):
            target = f"{base}.{alias.name}" if is_from and f"{base}.{alias.name}" in modules else base
            if target not in modules:
                continue
            deps.add(target)
            # importing a.b.c first runs a/__init__ and a/b/__init__, except those already running
            # because the importer is inside them
            parts = target.split(".")
            deps.update(p for p in (".".join(parts[:i]) for i in range(1, len(parts)))
                        if p in modules and not module.startswith(p + "."))
        deps.discard(module)
        graph[module] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


@dataclass(frozen=True)
class PrivateUse:
    path: Path
    line: int
    name: str  # e.g. hub.engine.badge._settle

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.name}"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(path: Path, module: str, modules: dict[str, Path]) -> list[PrivateUse]:
    """Where the file at `path` (module `module`) uses a private name of another project module:
    `from m import _x`, or `m._x` where m names a project module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    uses: list[PrivateUse] = []
    bound: dict[str, str] = {}  # local name -> project module it names
    tops = {m.partition(".")[0] for m in modules}
    for base, alias, is_from, line in _imported(tree, module, path):
        if not is_from:
            if alias.name.partition(".")[0] in tops:
                top = alias.name.partition(".")[0]
                bound[alias.asname or top] = alias.name if alias.asname else top
        elif f"{base}.{alias.name}" in modules:
            bound[alias.asname or alias.name] = f"{base}.{alias.name}"
        elif base in modules and base != module and _private(alias.name):
            uses.append(PrivateUse(path, line, f"{base}.{alias.name}"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            target = _dotted(node.value, bound)
            if target is not None and target in modules and target != module:
                uses.append(PrivateUse(path, node.lineno, f"{target}.{node.attr}"))
    return uses


def _dotted(node: ast.AST, bound: dict[str, str]) -> str | None:
    """The module an expression like `hub.engine.badge` or an alias of it names, if any."""
    if isinstance(node, ast.Name):
        return bound.get(node.id)
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value, bound)
        return f"{head}.{node.attr}" if head is not None else None
    return None


# ---------------------------------------------------------------- private attributes of other classes


def _defined_privates(node: ast.AST) -> set[str]:
    """Private names a class (or a module's top level) defines: its methods, class attributes and
    the attributes its code assigns on `self`/`cls`."""
    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and _private(sub.name):
            names.add(sub.name)
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store) and _private(sub.id):
            names.add(sub.id)
        elif (isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store) and _private(sub.attr)
              and isinstance(sub.value, ast.Name) and sub.value.id in ("self", "cls")):
            names.add(sub.attr)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and _private(sub.value):
            names.add(sub.value)  # __slots__ = ("_x", ...)
    return names


def private_attribute_uses(path: Path, project_privates: set[str]) -> list[PrivateUse]:
    """`obj._x` reached through anything but `self`/`cls` where `_x` is a private attribute some
    project module defines and the enclosing class (or, outside classes, this module) does not:
    one class reaching into another's insides (a link into its loop's lock, a bench into a
    link's connection). Attributes of other libraries (`sys._getframe`) are not the project's."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    uses: list[PrivateUse] = []
    module_own = _defined_privates(tree)

    def visit(node: ast.AST, own: set[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, _defined_privates(child))
                continue
            if (isinstance(child, ast.Attribute) and _private(child.attr) and child.attr in project_privates
                    and child.attr not in own
                    and not (isinstance(child.value, ast.Name) and child.value.id in ("self", "cls"))):
                uses.append(PrivateUse(path, child.lineno, f"{ast.unparse(child.value)}.{child.attr}"))
            visit(child, own)

    visit(tree, module_own)
    return uses


def project_privates(modules: dict[str, Path]) -> set[str]:
    """Every private attribute name the project's own classes and modules define."""
    names: set[str] = set()
    for path in modules.values():
        names |= _defined_privates(ast.parse(path.read_text(encoding="utf-8")))
    return names
