"""Layering: no import cycle among the project's modules (function-level imports count: a cycle
hidden in a function is still a cycle, it only fails later), and no test or bench reaching into
another module's private names (what they need is a public hook)."""

from __future__ import annotations

from pathlib import Path

from tests.import_graph import cycles, imports, private_uses, project_modules

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("edge", "hub", "kiosk_ui")


def test_no_import_cycle_among_the_project_modules():
    graph = imports(project_modules(ROOT, SHIPPED))
    assert len(graph) > 50 and graph["hub.engine.rollcall"]  # the walk found the tree and its imports
    assert cycles(graph) == []


def test_the_edge_imports_nothing_of_the_hub_or_the_web_ui():
    graph = imports(project_modules(ROOT, SHIPPED))
    wrong = {m: sorted(d for d in deps if d.startswith(("hub", "kiosk_ui")))
             for m, deps in graph.items() if m.startswith("edge")}
    assert {m: d for m, d in wrong.items() if d} == {}


def test_no_test_or_bench_uses_a_private_name_of_another_module():
    modules = project_modules(ROOT, (*SHIPPED, "tests", "bench"))
    uses = [str(u) for m, path in modules.items() if m.startswith(("tests", "bench"))
            for u in private_uses(path, m, modules)]
    assert uses == []


def _package(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return project_modules(root, ["pkg"])


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    modules = _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg import b\n",
        "pkg/b.py": "def f():\n    from .c import g\n    return g\n",
        "pkg/c.py": "import pkg.a\n",
        "pkg/d.py": "from pkg.a import x\n",  # depends on the cycle, is not part of it
    })
    assert cycles(imports(modules)) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_a_cycle_through_a_package_init_is_found(tmp_path):
    modules = _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/site.py": "from pkg.roster.config import load\n",
        "pkg/roster/__init__.py": "from pkg.site import Site\n",
        "pkg/roster/config.py": "def load(): ...\n",
    })
    assert cycles(imports(modules)) == [["pkg.roster", "pkg.site"]]


def test_acyclic_imports_are_not_a_cycle(tmp_path):
    modules = _package(tmp_path, {
        "pkg/__init__.py": "from pkg import a, b\n",  # a package importing its own modules
        "pkg/a.py": "from pkg.b import f\nimport pkg.b\n",
        "pkg/b.py": "import json\n",
    })
    assert cycles(imports(modules)) == []


def test_private_names_of_another_module_are_found(tmp_path):
    modules = _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "_x = 1\n__version__ = '1'\n",
        "pkg/t.py": ("from pkg.a import _x, __version__\nimport pkg.a\nfrom pkg import a as aa\n"
                     "print(pkg.a._x, aa._x, aa.public, self._ok)\n"),
    })
    found = sorted((u.line, u.name) for u in private_uses(modules["pkg.t"], "pkg.t", modules))
    assert found == [(1, "pkg.a._x"), (4, "pkg.a._x"), (4, "pkg.a._x")]
