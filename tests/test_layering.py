"""Layering: no import cycle among the project's modules (function-level imports count: a cycle
hidden in a function is still a cycle, it only fails later), and no test or bench reaching into
another module's private names (what they need is a public hook)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.import_graph import (
    cycles,
    imports,
    private_attribute_uses,
    private_uses,
    project_modules,
    project_privates,
)

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("edge", "hub", "kiosk_ui")
PROJECT = (*SHIPPED, "firmware_cfg", "tests", "bench")


def test_no_import_cycle_among_the_project_modules():
    graph = imports(project_modules(ROOT, SHIPPED))
    assert len(graph) > 50 and graph["hub.engine.rollcall"]  # the walk found the tree and its imports
    assert cycles(graph) == []


def test_the_edge_imports_nothing_of_the_hub_or_the_web_ui():
    graph = imports(project_modules(ROOT, SHIPPED))
    wrong = {m: sorted(d for d in deps if d.startswith(("hub", "kiosk_ui")))
             for m, deps in graph.items() if m.startswith("edge")}
    assert {m: d for m, d in wrong.items() if d} == {}


def shared_basenames(modules: dict[str, Path]) -> dict[str, list[str]]:
    """Basename -> the modules bearing it, for each name more than one module has (a package's
    __init__ and __main__ excepted): two `config.py` in an editor's tabs or a traceback are a
    guess which one is meant."""
    by_name: dict[str, list[str]] = {}
    for module, path in modules.items():
        if path.name not in ("__init__.py", "__main__.py"):
            by_name.setdefault(path.name, []).append(module)
    return {name: sorted(ms) for name, ms in sorted(by_name.items()) if len(ms) > 1}


def test_no_two_project_modules_share_a_name():
    modules = project_modules(ROOT, PROJECT)
    assert len(modules) > 200  # the walk found the tree
    assert shared_basenames(modules) == {}


def test_a_shared_module_name_is_found(tmp_path):
    modules = _package(tmp_path, {
        "pkg/__init__.py": "", "pkg/__main__.py": "", "pkg/config.py": "",
        "pkg/alerts/__init__.py": "", "pkg/alerts/config.py": "", "pkg/alerts/routes.py": "",
    })
    assert shared_basenames(modules) == {"config.py": ["pkg.alerts.config", "pkg.config"]}


def test_no_test_or_bench_uses_a_private_name_of_another_module():
    modules = project_modules(ROOT, PROJECT)
    uses = [str(u) for m, path in modules.items() if m.startswith(("tests", "bench"))
            for u in private_uses(path, m, modules)]
    assert uses == []


def test_no_class_reaches_into_another_ones_private_attributes():
    """`obj._x` where `_x` belongs to another class: a link taking its loop's lock, a driver
    setting another input's time base, a bench pulling a link's connection. Each needs a public
    hook (LinkLoop.watch, EdgeInput(origin=), Link.cut) instead."""
    modules = project_modules(ROOT, PROJECT)
    privates = project_privates(project_modules(ROOT, SHIPPED))
    uses = [str(u) for path in modules.values() for u in private_attribute_uses(path, privates)]
    assert uses == []


def test_reaching_into_another_class_is_found(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(
        "class Loop:\n"
        "    def __init__(self):\n        self._lock = 1\n        self._links = set()\n"
        "    def add(self, other):\n        other._links.add(self)  # its own attribute, another instance\n"
        "class Link:\n"
        "    def __init__(self, loop):\n        self.loop = loop\n        self._t0 = 0\n"
        "    def kick(self):\n        with self.loop._lock:\n            return self._t0\n"
        "def cut(link):\n    link._drop_client()\n    sys._getframe()\n"
    )
    found = sorted((u.line, u.name) for u in private_attribute_uses(path, {"_lock", "_links", "_t0", "_drop_client"}))
    assert found == [(12, "self.loop._lock"), (15, "link._drop_client")]


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


def readme_rooms(readme: str) -> dict[str, set[str]]:
    """The README's "where things are" table: folder -> the file names its row gives."""
    table = readme[readme.index("## Where things are"):]
    table = table[:table.index("\n\n", table.index("|"))]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return {line.split("`")[1]: set(re.findall(r"`([\w/.-]+\.(?:py|html))`", line)) for line in rows}


def test_the_readme_table_names_only_modules_that_exist_and_every_package_has_a_row():
    rooms = readme_rooms((ROOT / "README.md").read_text(encoding="utf-8"))
    assert set(SHIPPED) | {"firmware_cfg"} <= {folder.rstrip("/") for folder in rooms}
    for folder, names in rooms.items():
        files = {p.relative_to(ROOT).as_posix() for p in (ROOT / folder).rglob("*") if p.is_file()}
        missing = [n for n in sorted(names) if not any(f == n or f.endswith("/" + n) for f in files)]
        assert missing == [], f"README row {folder}: {missing}"
    assert len(rooms["hub/"]) > 30


def test_a_readme_row_naming_a_module_that_is_gone_is_found():
    rooms = readme_rooms("## Where things are\n| folder | what |\n|---|---|\n"
                         "| `hub/` | `service.py`, `store/` (`gone.py`) |\n\nDocumentation: ...")
    assert rooms == {"hub/": {"service.py", "gone.py"}}
