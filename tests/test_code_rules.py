"""The code rules of DESIGN.md that a machine can check: layers point down only (app.py -> studio/ui -> studio ->
agents -> worlds), streamlit is imported only in app.py and studio/ui, and no line is longer than 120 characters.
Imports inside functions count too: a lazy import is still a dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RANK = {"worlds": 0, "agents": 1, "studio": 2, "studio.ui": 3, "app": 4}     # a module may import lower ranks
SOURCES = ("worlds", "agents", "studio", "bench", "tests", "examples")
MAX_LINE = 120


def layer(module: str) -> str | None:
    """The layer of a dotted module name (None: outside the product's layers, e.g. bench, tests, numpy)."""
    if module == "studio.ui" or module.startswith("studio.ui."):
        return "studio.ui"
    top = module.split(".")[0]
    return top if top in RANK else None


def imported(source: str) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in ``source``, at any depth."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # "from studio import ui" imports studio.ui: name the member too
            out += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def breaches(module: str, source: str) -> list[str]:
    """What ``source`` (the module ``module``) imports against the rules, one line each."""
    own = layer(module)
    out = []
    for line, name in imported(source):
        if name.split(".")[0] == "streamlit" and own not in ("studio.ui", "app"):
            if own is not None or module.split(".")[0] == "bench":     # tests may drive the app with AppTest
                out.append(f"{module}:{line} imports {name}: streamlit belongs in app.py and studio/ui only")
        target = layer(name)
        if own is not None and target is not None and RANK[target] > RANK[own]:
            out.append(f"{module}:{line} imports {name}: {own} may not import the {target} layer above it")
    return out


def python_files() -> list[Path]:
    files = [ROOT / "app.py"] + [p for d in SOURCES for p in sorted((ROOT / d).rglob("*.py"))]
    return [p for p in files if p.is_file()]


def module_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def test_the_checker_catches_an_upward_import_and_a_stray_streamlit():
    """The control: the checks below would fail on these."""
    assert breaches("worlds.tabletop", "def f():\n    from agents.rewards import stack\n")
    assert breaches("agents.thing", "from studio import ui\n")
    assert breaches("studio.session", "import studio.ui.nav\n")
    assert breaches("studio.session", "import streamlit as st\n")
    assert breaches("bench.reward", "import streamlit\n")
    assert not breaches("studio.ui.nav", "import streamlit as st\nfrom studio import session\nimport worlds\n")
    assert not breaches("tests.test_app", "from streamlit.testing.v1 import AppTest\n")


def test_layers_point_down_and_streamlit_stays_in_the_ui():
    files = python_files()
    assert len(files) > 100 and ROOT / "app.py" in files
    found = [b for p in files for b in breaches(module_of(p), p.read_text())]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("limit", [MAX_LINE])
def test_no_line_is_longer_than_the_limit(limit):
    long = [f"{p.relative_to(ROOT)}:{n} has {len(line)} characters"
            for p in python_files() for n, line in enumerate(p.read_text().splitlines(), 1) if len(line) > limit]
    assert not long, f"lines over {limit} characters (wrap them):\n" + "\n".join(long)
