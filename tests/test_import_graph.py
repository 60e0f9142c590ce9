"""The import graph of `cig_k3/` and `data_prep/` has no cycles, deferred imports included.

The graph is read from the source with `ast`, without importing anything: an edge A -> B
for every `import B` / `from B import name` anywhere in A (at module level or inside a
function), with relative imports resolved and `from package import module` pointing at the
module. Importing `a.b.c` also runs the `__init__.py` of `a.b` (and of `a`), so it is an
edge to those packages too, unless the importer lives in them (they are running already). A
dynamic `importlib.import_module(...)` counts too: it may load any module that
its argument's constant prefix (`f"cig_k3.commands.{name}"`, `f"{__name__}.{...}"`, or none)
completes with a string spelled out in the same file, which is how the CLI's command table
and the lazy package exports name their modules. Only edges between modules of the two
packages are kept.
"""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("cig_k3", "data_prep")

pytestmark = pytest.mark.backend_independent


def module_name(path):
    """cig_k3/training/gan.py -> cig_k3.training.gan; a package's __init__.py -> the package."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(name, path):
    """The package that relative imports in `path` start from."""
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _resolve_from(node, name, path):
    if not node.level:
        return node.module
    base = package_of(name, path).split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _constant_prefix(argument, name):
    """The part of import_module's argument known before run time: a literal, the leading
    literal pieces of an f-string (`__name__` read as this module's name), else ""."""
    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
        return argument.value, True
    prefix = ""
    if isinstance(argument, ast.JoinedStr):
        for piece in argument.values:
            if isinstance(piece, ast.Constant):
                prefix += piece.value
            elif isinstance(piece.value, ast.Name) and piece.value.id == "__name__":
                prefix += name
            else:
                break
    return prefix, False


def _is_import_module(call):
    function = call.func
    named = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
    return named in ("import_module", "__import__") and bool(call.args)


def imports_of(path, name, modules):
    """The internal modules that module `name` (file `path`) imports, with the line of each."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    strings = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    found = {}

    def add(target, line):
        # `import a.b.c` where a.b.c is not one of ours: keep the deepest module that is.
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.setdefault(target, line)
            # Importing a.b.c first runs a/__init__.py and a/b/__init__.py; those of our own
            # packages are already running (or done) when this module runs.
            package = target.rpartition(".")[0]
            while package and not (name == package or name.startswith(package + ".")):
                found.setdefault(package, line)
                package = package.rpartition(".")[0]

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve_from(node, name, path)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                add(submodule if submodule in modules else source, node.lineno)
        elif isinstance(node, ast.Call) and _is_import_module(node):
            prefix, literal = _constant_prefix(node.args[0], name)
            if literal:
                add(prefix, node.lineno)
                continue
            for text in strings:
                if prefix + text in modules:
                    add(prefix + text, node.lineno)
    return found


def import_graph():
    files = {module_name(path): path for package in PACKAGES for path in sorted((REPO / package).rglob("*.py"))}
    return {name: imports_of(path, name, files) for name, path in files.items()}, files


def find_cycle(graph):
    """One cycle as a list of modules [a, b, ..., a], or None (iterative depth-first search)."""
    state = {}  # absent: unvisited; 1: on the current path; 2: done
    for root in sorted(graph):
        if root in state:
            continue
        path, stack = [root], [iter(sorted(graph[root]))]
        state[root] = 1
        while stack:
            target = next(stack[-1], None)
            if target is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(target) == 1:
                return path[path.index(target):] + [target]
            elif target not in state:
                state[target] = 1
                path.append(target)
                stack.append(iter(sorted(graph[target])))
    return None


def describe(cycle, graph, files):
    return " -> ".join(
        f"{a} ({files[a].relative_to(REPO)}:{graph[a][b]})" for a, b in zip(cycle, cycle[1:])
    ) + f" -> {cycle[-1]}"


def test_import_graph_has_no_cycles():
    graph, files = import_graph()
    assert len(graph) > 50, "the walk found too few modules: is REPO right?"
    cycle = find_cycle(graph)
    assert cycle is None, f"import cycle: {describe(cycle, graph, files)}"


def test_the_walk_sees_deferred_relative_and_dynamic_imports(tmp_path, monkeypatch):
    """The detector itself: a cycle closed only by a function-level relative import, one
    closed by `from package import module`, and one closed by a dynamic import, are each
    found; the same files without the closing import are acyclic."""
    package = tmp_path / "cig_k3"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from cig_k3.sub import b\n")
    (package / "sub" / "b.py").write_text("def later():\n    from ..c import value\n")
    (package / "c.py").write_text("import importlib\nNAMES = ['a']\n"
                                  "def load(n):\n    return importlib.import_module(f'cig_k3.{n}')\n")
    (tmp_path / "data_prep").mkdir()
    monkeypatch.setattr(f"{__name__}.REPO", tmp_path)
    graph, files = import_graph()
    assert graph["cig_k3.a"] == {"cig_k3.sub.b": 1, "cig_k3.sub": 1}
    assert graph["cig_k3.sub.b"] == {"cig_k3.c": 2}
    assert graph["cig_k3.c"] == {"cig_k3.a": 4}
    cycle = find_cycle(graph)
    assert cycle == ["cig_k3.a", "cig_k3.sub.b", "cig_k3.c", "cig_k3.a"]
    assert "cig_k3/sub/b.py:2" in describe(cycle, graph, files)

    (package / "c.py").write_text("NAMES = ['a']\n")
    graph, _ = import_graph()
    assert find_cycle(graph) is None

    # A package's __init__ that imports back what imports from inside the package.
    (package / "sub" / "__init__.py").write_text("from cig_k3.a import later\n")
    graph, _ = import_graph()
    assert find_cycle(graph) == ["cig_k3.a", "cig_k3.sub", "cig_k3.a"]
