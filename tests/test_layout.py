"""The project's layout: its import graph has no cycle, and no module binds a top-level
name twice."""
import ast
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def project_modules():
    """Every module of the project by its import name: the top-level scripts and the
    study package's modules."""
    found = {path.stem: path for path in PROJECT.glob("*.py") if not path.stem.startswith("test")}
    found.update({f"study.{path.stem}": path for path in (PROJECT / "study").glob("*.py")
                  if path.stem != "__init__"})
    return found


def imports_of(path, modules):
    """The project's modules that the module at path imports, anywhere in it (a lazy
    import inside a function counts)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in modules}
    return found


def import_graph():
    modules = project_modules()
    return {name: imports_of(path, modules) - {name} for name, path in modules.items()}


def cycle(graph):
    """One import cycle of graph (a list of modules, the first again at its end), or None."""
    state = {}

    def visit(node, path):
        state[node] = "open"
        for other in sorted(graph[node]):
            if state.get(other) == "open":
                return path[path.index(other):] + [other]
            if other not in state:
                found = visit(other, path + [other])
                if found:
                    return found
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return None


def test_no_import_cycle_among_the_projects_modules():
    graph = import_graph()
    assert {"compare", "original_net", "study.lockstep", "study.alignment"} <= set(graph)
    assert cycle(graph) is None, " -> ".join(cycle(graph))


def test_the_cycle_check_can_fail():
    graph = import_graph()
    graph["study.alignment"] = graph["study.alignment"] | {"study.lockstep"}
    found = cycle(graph)
    assert found[0] == found[-1] and set(found) == {"study.alignment", "study.lockstep"}


def twice_bound(tree):
    """The names that a module's top-level statements bind more than once."""
    seen, twice = set(), []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names = [node.name]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [(alias.asname or alias.name).split(".")[0] for alias in node.names]
        else:
            continue
        twice += [name for name in names if name in seen]
        seen.update(names)
    return twice


def test_no_module_binds_a_top_level_name_twice():
    paths = [*project_modules().values(), *PROJECT.glob("tests/*.py")]
    doubled = {str(p.relative_to(PROJECT)): twice_bound(ast.parse(p.read_text()))
               for p in paths}
    assert {path: names for path, names in doubled.items() if names} == {}
    assert twice_bound(ast.parse("A = 1\ndef f(): pass\nA = 2\n")) == ["A"]


SHARED = ("number", "looks_negative", "count", "UsageError", "Parser", "output_failed")


def definitions(text, names=SHARED):
    """The source text of the top-level functions and classes named names in text."""
    lines = text.splitlines(keepends=True)
    return {node.name: "".join(lines[node.lineno - 1:node.end_lineno])
            for node in ast.parse(text).body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in names}


def test_the_nets_copies_of_the_command_line_plumbing_are_the_packages():
    """The nets stand alone, so they carry their own copies of study/cli.py's argument
    types, usage error, parser and output failure: the same text, line for line."""
    shared = definitions((PROJECT / "study" / "cli.py").read_text())
    assert set(shared) == set(SHARED)
    for net in ("original_net.py", "broken_net.py"):
        assert definitions((PROJECT / net).read_text()) == shared, net
    edited = (PROJECT / "original_net.py").read_text().replace('"at least {low}"',
                                                               '"{low} or more"')
    assert definitions(edited)["number"] != shared["number"]  # the check can fail


def floors():
    """The floors the package docstring draws: {module: floor}."""
    import study
    found = {}
    for line in study.__doc__.split("down these floors")[1].splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[0].isdigit():
            for name in parts[1].split(", "):
                name = name.removesuffix(".py")
                found[name if name in project_modules() else f"study.{name}"] = int(parts[0])
    return found


def test_the_package_docstring_draws_the_imports():
    """Every module is on a floor of study/__init__.py's drawing, and imports only from
    floors below its own."""
    graph, floor = import_graph(), floors()
    assert set(floor) == set(graph)
    upward = [f"{a} imports {b}" for a in graph for b in graph[a] if floor[b] >= floor[a]]
    assert upward == []
