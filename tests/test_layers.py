"""The package's shape, enforced (DEVELOPERS.md, "Layout").

``grokpaper`` is layered, bottom first: ``config`` (profiles, the project's root) < ``core``
(the research library) < ``analysis`` < ``paper`` (the chapters' logic, what the article reads)
< ``builder`` (runner, report build) < ``__main__`` (the command line). A module imports modules
of its own layer or of lower ones, never of a higher one; ``import grokpaper`` (for
``__version__``) is fine anywhere. Every import counts, also one inside a function. Modules
import each other in no cycle, and an import sits at the top of its module unless a comment on
its line says why (a slow import, an optional dependency).

``layer_problems`` reads the imports with ``ast`` and lists every breach; the last tests show it
catches each kind on a small package made to break them.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "grokpaper"
LAYERS = ("config", "core", "analysis", "paper", "builder", "__main__")


def module_name(path: Path, package: Path) -> str:
    """grokpaper/paper/audit.py -> grokpaper.paper.audit; grokpaper/core/__init__.py -> grokpaper.core."""
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports(package: Path) -> dict[str, list[tuple[str, int, bool, bool]]]:
    """Every module of ``package`` and what it imports of the package: {module: [(imported module,
    line, at the module's top, the line has a comment)]}. Relative imports are resolved, and
    ``from pkg import name`` counts as ``pkg.name`` where that is a module of the package."""
    files = {module_name(path, package): path for path in sorted(package.rglob("*.py"))}
    found = {}
    for module, path in files.items():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        found[module] = [(target, node.lineno, top, "#" in lines[node.lineno - 1])
                         for node, top in _import_nodes(ast.parse(source))
                         for target in _targets(node, module, path.name == "__init__.py", files)]
    return found


def _import_nodes(tree, top: bool = True):
    """Every import statement under ``tree``, with whether it sits at the module's top (not inside
    a function, class or lambda)."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, top
        nested = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
        yield from _import_nodes(child, top and not nested)


def _targets(node, module: str, is_package: bool, files: dict) -> list[str]:
    """The modules an import statement names: package modules as they are, anything else
    (the standard library, third-party packages) as the top-level name it imports."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: from the importing module's package
        base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    return [f"{source}.{a.name}" if f"{source}.{a.name}" in files else source for a in node.names]


def layer_problems(package: Path, layers: tuple[str, ...]) -> list[str]:
    """Every breach of the layering in ``package``, one line each (empty: none): an import of a
    higher layer, a module in no layer, an import cycle, an import inside a function with no
    comment on its line."""
    root = package.name
    graph = package_imports(package)

    def layer(module: str) -> int | None:
        """The layer index of a package module; None for the package itself (its __init__)."""
        parts = module.split(".")
        return None if len(parts) == 1 else layers.index(parts[1]) if parts[1] in layers else -1

    def where(module: str, line: int) -> str:
        return f"{module.replace('.', '/')}{'/__init__' if (package.parent / module.replace('.', '/')).is_dir() else ''}.py:{line}"

    problems = [f"{where(m, 1)}: {m} is in no layer (layers: {', '.join(layers)})"
                for m in graph if layer(m) == -1]
    for module, imports in graph.items():
        for target, line, at_top, commented in imports:
            inside = target.split(".")[0] == root
            if not at_top and not commented:
                problems.append(f"{where(module, line)}: {module} imports {target} inside a function with no "
                                f"comment saying why (move it to the top)")
            if not inside or layer(module) in (None, -1) or layer(target) in (None, -1):
                continue
            if layer(target) > layer(module):
                problems.append(f"{where(module, line)}: {module} ({layers[layer(module)]}) imports {target} "
                                f"({layers[layer(target)]}), a higher layer")
    edges = {m: sorted({t for t, *_ in imports if t in graph and t != root and t != m}) for m, imports in graph.items()}
    problems += [f"import cycle: {' -> '.join(cycle + [cycle[0]])}" for cycle in _cycles(edges)]
    return problems


def _cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """The import cycles of a graph: each strongly connected component of more than one module,
    as a path through it (Tarjan's algorithm)."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def connect(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, []):
            if w not in index:
                connect(w)
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
                components.append(_path_through(sorted(component), edges))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return components


def _path_through(component: list[str], edges: dict[str, list[str]]) -> list[str]:
    """A cycle inside a strongly connected component, from its first module back to it."""
    members, start = set(component), component[0]
    paths = {start: [start]}
    todo = [start]
    while todo:
        v = todo.pop(0)
        for w in edges[v]:
            if w == start:
                return paths[v]
            if w in members and w not in paths:
                paths[w] = paths[v] + [w]
                todo.append(w)
    return component


# ------------------------------------------------------------------------------ the package

def test_the_package_keeps_its_layers():
    assert layer_problems(PACKAGE, LAYERS) == []


def test_the_research_library_imports_without_the_paper_its_build_or_the_optional_extras():
    """Importing the core and the analysis loads none of the paper, the builder, papermill or
    Jupyter; every module imports without the optional extras (pandoc, typst: `offline`;
    transformer-lens: `lens`), and the command line starts without them."""
    code = textwrap.dedent("""
        import importlib, pkgutil, sys
        for name in ("pypandoc", "typst", "transformer_lens"):
            sys.modules[name] = None  # as if not installed: importing it raises ImportError
        import grokpaper, grokpaper.analysis, grokpaper.core
        for package in (grokpaper.core, grokpaper.analysis):
            for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
                importlib.import_module(info.name)
        loaded = [m for m in ("grokpaper.paper", "grokpaper.builder", "papermill", "jupytext", "nbformat", "IPython")
                  if m in sys.modules]
        assert not loaded, f"the research library loaded {loaded}"
        for info in pkgutil.walk_packages(grokpaper.__path__, "grokpaper."):
            importlib.import_module(info.name)
        from grokpaper.__main__ import main
        try:
            main(["--help"])
        except SystemExit as done:
            assert done.code == 0
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr[-3000:]


# ------------------------------------------------------------------------------ the check itself

def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root / "pkg"


LAYERED_PKG = {
    "pkg/__init__.py": "__version__ = '1'\n",
    "pkg/config.py": "import json\n",
    "pkg/core/__init__.py": "",
    "pkg/core/model.py": "import pkg\nfrom pkg.config import json\n",
    "pkg/core/store.py": "from pkg.core import model\nfrom . import model as same\n",
    "pkg/paper/__init__.py": "",
    "pkg/paper/plots.py": "import math\n",
    "pkg/paper/audit.py": """
        from pkg.core.store import same


        def later():
            import yaml  # slow import: only when asked
    """,
}


def test_a_well_layered_package_passes(tmp_path):
    assert layer_problems(_write(tmp_path, LAYERED_PKG), LAYERS) == []


def test_an_import_of_a_higher_layer_fails_even_inside_a_function(tmp_path):
    package = _write(tmp_path, {**LAYERED_PKG, "pkg/core/store.py": """
        from pkg.core import model


        def save():
            from pkg.paper.plots import math  # looks harmless, points up
    """})
    assert layer_problems(package, LAYERS) == [
        "pkg/core/store.py:6: pkg.core.store (core) imports pkg.paper.plots (paper), a higher layer"]


def test_relative_imports_are_checked_as_well(tmp_path):
    package = _write(tmp_path, {**LAYERED_PKG, "pkg/config.py": "from .paper import plots\n"})
    assert layer_problems(package, LAYERS) == [
        "pkg/config.py:1: pkg.config (config) imports pkg.paper.plots (paper), a higher layer"]


def test_an_import_up_that_closes_a_circle_is_reported_twice(tmp_path):
    package = _write(tmp_path, {**LAYERED_PKG, "pkg/core/model.py": "from pkg.paper import audit\n"})
    assert layer_problems(package, LAYERS) == [
        "pkg/core/model.py:1: pkg.core.model (core) imports pkg.paper.audit (paper), a higher layer",
        "import cycle: pkg.core.model -> pkg.paper.audit -> pkg.core.store -> pkg.core.model"]


def test_an_import_cycle_fails_within_one_layer(tmp_path):
    package = _write(tmp_path, {**LAYERED_PKG, "pkg/core/model.py": """
        def save():
            from pkg.core.store import model  # the store imports the model: a circle
    """})
    assert layer_problems(package, LAYERS) == ["import cycle: pkg.core.model -> pkg.core.store -> pkg.core.model"]


def test_a_function_level_import_needs_a_comment_and_a_module_needs_a_layer(tmp_path):
    package = _write(tmp_path, {**LAYERED_PKG, "pkg/helpers.py": "import json\n", "pkg/paper/audit.py": """
        def later():
            import yaml
    """})
    assert layer_problems(package, LAYERS) == [
        "pkg/helpers.py:1: pkg.helpers is in no layer (layers: config, core, analysis, paper, builder, __main__)",
        "pkg/paper/audit.py:3: pkg.paper.audit imports yaml inside a function with no comment saying why (move it to the top)",
    ]
