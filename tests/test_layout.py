"""The package's layout holds: imports point down the layers, never in a cycle, and never at another module's
underscore names (what is shared has a public name). Read from the source with ast, nothing imported."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PACKAGE = "recipe_cli"
# The layers, lowest first: a module may import from its own layer and the ones before it.
LAYERS = [
    ("errors", "device", "pipeline"),
    ("config",),
    ("data",),
    ("output",),
    ("evaluation", "display"),
    ("training",),
    ("sweep",),
    ("cli", "__main__"),
]


def layer_of(module: str) -> int | None:
    """The layer of a recipe_cli module (None for the package itself, whose __init__ registers functions)."""
    parts = module.split(".")
    if parts[0] != PACKAGE or len(parts) == 1:
        return None
    for i, names in enumerate(LAYERS):
        if parts[1] in names:
            return i
    raise AssertionError(f"{module} is in no layer: add its folder to LAYERS")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, str | None, int]]:
    """(module, name or None, line) for every import in a file, relative ones made absolute."""
    tree = ast.parse(path.read_text(encoding="utf8"))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, None, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found.extend((base, alias.name, node.lineno) for alias in node.names)
    return found


def python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def package_graph() -> dict[str, set[str]]:
    """recipe_cli module → the recipe_cli modules it imports."""
    modules = {module_name(p) for p in python_files(PACKAGE)}
    graph: dict[str, set[str]] = {}
    for path in python_files(PACKAGE):
        targets = set()
        for module, name, _ in imports(path):
            if name is not None and f"{module}.{name}" in modules:
                targets.add(f"{module}.{name}")  # from package import submodule
            elif module in modules:
                targets.add(module)
        graph[module_name(path)] = targets - {module_name(path)}
    return graph


def test_layers_are_defined_for_every_folder():
    for path in python_files(PACKAGE):
        layer_of(module_name(path))


def test_no_import_runs_up_a_layer():
    upward = []
    for path in python_files(PACKAGE):
        here = layer_of(module_name(path))
        for module, _, line in imports(path):
            there = layer_of(module) if module.startswith(PACKAGE) else None
            if here is not None and there is not None and there > here:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert upward == []


def test_sweep_runs_training_only_through_the_commands():
    """sweep/ runs each trial as recipe-train and recipe-eval processes: it imports nothing from training/, so what
    a trial does is what a user's command does."""
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in python_files(f"{PACKAGE}/sweep")
        for module, _, line in imports(path)
        if module.startswith(f"{PACKAGE}.training")
    ]
    assert found == []


def test_no_import_cycle():
    graph = package_graph()
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if target == PACKAGE:
                continue  # the package's __init__ (its version), which every module may read
            if state.get(target) == 1:
                cycles.append(" → ".join(path[path.index(target) :] + [target]))
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


@pytest.mark.parametrize("folder", [PACKAGE, "scripts", "tests"])
def test_no_import_of_another_modules_underscore_names(folder):
    private = []
    for path in python_files(folder):
        here = module_name(path)
        for module, name, line in imports(path):
            if not module.startswith(PACKAGE):
                continue
            # A private module (data/formats/_text) is shared inside its own package only.
            parts = module.split(".")
            for i, part in enumerate(parts):
                owner = ".".join(parts[:i])
                if is_private(part) and here != owner and not here.startswith(owner + "."):
                    private.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
            if name is not None and is_private(name):
                private.append(f"{path.relative_to(ROOT)}:{line} imports {name} from {module}")
    assert private == []


def _written_in_place(node: ast.expr) -> bool:
    """A message written where it is raised or warned: a string literal or f-string, not a coded template."""
    return isinstance(node, ast.Constant | ast.JoinedStr) and not (isinstance(node, ast.Constant) and node.value == "")


def test_every_error_and_warning_has_a_code():
    """Errors the package raises and warnings it gives take their text from errors.py (Errors.E0xx,
    Warnings.W0xx), so each has a code a user can search for."""
    uncoded = []
    for path in python_files(PACKAGE):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
            raised = name.endswith("Error") and name != "OSError"
            warned = name == "warn" and owner in ("warnings", "console", "err", "msg")
            written = _written_in_place(node.args[0]) if raised else all(map(_written_in_place, node.args))
            if (raised or warned) and written:
                uncoded.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert not uncoded, uncoded


def registered_here() -> dict[tuple[str, str], object]:
    """(entry-point group, name) → function, for every function any module of the package registers: every module
    imported (but __main__, which runs the command), then each of spaCy's and thinc's registry tables walked."""
    import importlib
    import pkgutil

    import catalogue
    from spacy.util import registry

    import recipe_cli

    for module in pkgutil.walk_packages(recipe_cli.__path__, f"{PACKAGE}."):
        if not module.name.endswith(".__main__"):
            importlib.import_module(module.name)
    found = {}
    for attr in dir(registry):
        table = getattr(registry, attr)
        if isinstance(table, catalogue.Registry):
            for name, function in table.get_all().items():
                if getattr(function, "__module__", "").split(".")[0] == PACKAGE:
                    # catalogue's entry-point group of the table: spacy_readers, thinc_schedules, ...
                    found[(table.entry_point_namespace, name)] = function
    return found


def test_entry_points_name_the_functions_registered_under_their_names():
    """spaCy tools that resolve a saved config (spacy debug config, spacy train on a run's config) in a process that
    never imported recipe_cli find our functions through pyproject's entry points: every function the package
    registers, in any registry table, has one, and each leads to the function registered under its name."""
    import importlib

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf8"))["project"]
    declared = {
        (group, name): target
        for group, table in project["entry-points"].items()
        if group.startswith(("spacy_", "thinc_"))
        for name, target in table.items()
    }
    registered = registered_here()
    assert sorted(declared) == sorted(registered)
    for (group, name), target in declared.items():
        module, function = target.split(":")
        assert getattr(importlib.import_module(module), function) is registered[(group, name)], (group, name)
