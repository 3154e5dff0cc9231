#!/usr/bin/env python3
"""Check that nnblocks' source tree keeps the shape its design promises (issue 10's acceptance rules).

    python tools/check_structure.py          # the src/ next to this folder
    python tools/check_structure.py SRC      # another tree (the tests plant violations in a temporary one)

Four rules, each read from the source text alone (nothing is imported, so a broken module cannot hide anything):

1. no file under ``src/`` above ``MAX_FILE_LINES`` lines;
2. no function or method above ``MAX_FUNCTION_LINES`` lines, counted from its ``def`` line to its last line;
3. no import cycle among nnblocks modules, except the designed one among ``tensor``, ``autograd`` and ``ops``
   (``tensor.py`` registers the ops as Tensor methods at its end; every op builds Tensors);
4. layering: a module never imports one from a higher room of ``LAYERS`` (the picture in DESIGN.md: ``tensor``
   knows nothing of ``nn``, ``nn`` nothing of ``train``...; only ``experiments``, ``bench`` and ``cli`` see all;
   the package ``__init__`` gathers the engine, ``nn``, ``optim`` and ``utils``, as PyTorch's does).

How imports count: every ``import`` statement is a dependency, wherever it stands - at module level, inside a
function, under ``if TYPE_CHECKING:`` or in a ``try``. Deferring an import changes *when* its cost is paid (so that
``nnblocks --help`` stays instant, or an optional package such as torch is needed only when used), never *whether*
the dependency exists: a function-level import that closes a cycle or reaches up a layer is reported like any other.
``from package import name`` depends on ``package.name`` when that is a module, else on ``package`` itself.
Importing a submodule also runs its package's ``__init__``; that implicit step is not an edge (otherwise every
package that re-exports its submodules would be a cycle). Imports computed at run time (``importlib``) are invisible.

Exit status: 0 when every violation is in a file of ``KNOWN_OFFENDERS``, 1 otherwise.
"""
from __future__ import annotations

import argparse
import ast
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path

MAX_FILE_LINES = 450
MAX_FUNCTION_LINES = 80

# The designed cycle: modules that are all in these rooms may import each other in a circle.
DESIGNED_CYCLE = ("nnblocks.tensor", "nnblocks.autograd", "nnblocks.ops")

# The rooms, lowest first; a module belongs to the room of the longest prefix matching its name. A module may import
# from its own room or any lower one.
#
# The package itself (``nnblocks/__init__.py``, the room named "nnblocks": the top package stands for its own
# ``__init__`` only) is PyTorch's namespace: ``import nnblocks as torch`` reaches ``torch.nn``, ``torch.optim`` and
# ``torch.utils.data`` because it imports them, as ``torch/__init__.py`` does. So its room sits above the rooms it
# gathers (the engine, nn, optim, data/utils) and below everything else. That keeps the real layering violations
# visible: a module of the engine, nn, optim or data that imports the package (``from nnblocks import Tensor``)
# reaches *up* to it, and is reported; it must import from where the name lives (``nnblocks.tensor``).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("nnblocks.fundamentals",),  # the chapter by hand: NumPy alone
    ("nnblocks.errors", "nnblocks.random", "nnblocks._memory",  # shared by every room
     "nnblocks.dtypes", "nnblocks.devices", "nnblocks.cuda", "nnblocks.printing"),
    ("nnblocks.tensor", "nnblocks.autograd", "nnblocks.ops", "nnblocks.creation", "nnblocks.gradcheck",
     "nnblocks.serialization"),  # save/load: Tensors and arrays to a file (the package re-exports it)
    ("nnblocks.nn",),
    ("nnblocks.optim",),
    ("nnblocks.export",),  # the way back out: nn modules to PyTorch and ONNX, and back
    ("nnblocks.data", "nnblocks.utils", "nnblocks.vision"),  # utils.data: PyTorch's name for the data room;
    # vision: the torchvision stand-in over data
    ("nnblocks",),  # the package's __init__: PyTorch's namespace over the rooms above (see this comment's start)
    ("nnblocks.train",),
    ("nnblocks.viz",),
    ("nnblocks.recipe",),  # one run's recipe: data -> model -> loss/optimizer/scheduler -> fit -> outputs
    ("nnblocks.experiments", "nnblocks.bench", "nnblocks.playground"),
    ("nnblocks.cli", "nnblocks.__main__"),
)

# Files (relative to src/) that violated a rule when this checker was written and are being reworked elsewhere
# (issue 10). Their violations are listed but do not fail the check. Empty this set once that work has merged.
KNOWN_OFFENDERS: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Violation:
    rule: str  # "file length", "function length", "import cycle", "layering"
    path: str  # the file at fault, relative to src/ (a cycle: its first module's file)
    line: int
    message: str
    files: tuple[str, ...] = ()  # every file involved (a cycle has several); defaults to (path,)

    def known(self, offenders: frozenset[str]) -> bool:
        """Tolerated: every file involved is a known offender."""
        return all(f in offenders for f in (self.files or (self.path,)))

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: [{self.rule}] {self.message}"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    deferred: bool  # the import statement sits inside a function


# ---- reading the tree ------------------------------------------------------------------------------------------------
def find_modules(src: Path) -> dict[str, Path]:
    """Module name -> file, for every nnblocks ``.py`` file under ``src`` (a package is its ``__init__.py``)."""
    modules = {}
    for path in sorted((src / "nnblocks").rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _known_module(name: str, modules: dict[str, Path]) -> str | None:
    """``name`` if it is a module of the tree, else its longest prefix that is (None outside nnblocks)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imported_names(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The dotted names an import statement brings in (``from X import a`` gives ``X.a``, checked later)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: drop one package level per dot beyond the current package
        package = module if is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    return [base if alias.name == "*" else f"{base}.{alias.name}" for alias in node.names]


def _walk_imports(node: ast.AST, deferred: bool = False):
    """Every import statement under ``node``, with whether a function body encloses it."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, deferred
        inside = deferred or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
        yield from _walk_imports(child, inside)


def import_edges(modules: dict[str, Path], trees: dict[str, ast.Module]) -> list[Edge]:
    edges = []
    for module, tree in trees.items():
        is_package = modules[module].name == "__init__.py"
        for node, deferred in _walk_imports(tree):
            for name in _imported_names(node, module, is_package):
                target = _known_module(name, modules)
                if target is not None and target != module:
                    edges.append(Edge(module, target, node.lineno, deferred))
    return edges


# ---- the rules -------------------------------------------------------------------------------------------------------
def file_lengths(files: dict[str, str]) -> list[Violation]:
    return [Violation("file length", path, MAX_FILE_LINES + 1, f"{n} lines (at most {MAX_FILE_LINES})")
            for path, text in files.items() if (n := len(text.splitlines())) > MAX_FILE_LINES]


def function_lengths(path: str, tree: ast.Module) -> list[Violation]:
    found = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                if not isinstance(child, ast.ClassDef):
                    n = child.end_lineno - child.lineno + 1
                    if n > MAX_FUNCTION_LINES:
                        found.append(Violation("function length", path, child.lineno,
                                               f"{name}() is {n} lines (at most {MAX_FUNCTION_LINES})"))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (no recursion limit on long import chains): the components of 2+ modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def _shortest_cycle(start: str, members: set[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest import path from ``start`` back to itself inside one component (breadth first)."""
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(graph[node] & members):
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [start] + path[::-1][1:] + [start] if len(path) > 1 else [start, start]
            if child not in previous:
                previous[child] = node
                queue.append(child)
    raise AssertionError(f"{start} is in a component but on no cycle")


def _designed(component: list[str]) -> bool:
    return all(any(_in(m, room) for room in DESIGNED_CYCLE) for m in component)


def import_cycles(edges: list[Edge], modules: dict[str, Path], src: Path) -> list[Violation]:
    graph: dict[str, set[str]] = {m: set() for m in modules}
    where = {}
    for e in edges:
        graph[e.source].add(e.target)
        where.setdefault((e.source, e.target), e)
    found = []
    for component in _strongly_connected(graph):
        if _designed(component):
            continue
        cycle = _shortest_cycle(component[0], set(component), graph)
        steps = [f"{a} -> {b} (line {where[a, b].line}{', in a function' if where[a, b].deferred else ''})"
                 for a, b in zip(cycle, cycle[1:])]
        files = tuple(_relative(modules[m], src) for m in component)
        more = f"; {len(component)} modules in the knot: {', '.join(component)}" if len(component) > len(cycle) - 1 \
            else ""
        found.append(Violation("import cycle", files[0], where[cycle[0], cycle[1]].line,
                               "; ".join(steps) + more, files))
    return found


def _in(module: str, room: str) -> bool:
    """``module`` is ``room`` or inside it; the top package stands for its own ``__init__`` only (else every module
    would be in its room)."""
    return module == room or ("." in room and module.startswith(room + "."))


def _room(module: str) -> int | None:
    best, rank = -1, None
    for r, rooms in enumerate(LAYERS):
        for room in rooms:
            if _in(module, room) and len(room) > best:
                best, rank = len(room), r
    return rank


def layering(edges: list[Edge], modules: dict[str, Path], src: Path) -> list[Violation]:
    found = []
    for module in modules:
        if _room(module) is None:
            found.append(Violation("layering", _relative(modules[module], src), 1,
                                   f"{module} is in no room of LAYERS: place it in check_structure.py"))
    for e in edges:
        low, high = _room(e.source), _room(e.target)
        if low is not None and high is not None and high > low:
            how = "a function-level import of" if e.deferred else "imports"
            found.append(Violation("layering", _relative(modules[e.source], src), e.line,
                                   f"{e.source} ({LAYERS[low][0]} room) {how} {e.target} from the higher "
                                   f"{LAYERS[high][0]} room"))
    return found


def _relative(path: Path, src: Path) -> str:
    return path.relative_to(src).as_posix()


def check(src: Path) -> list[Violation]:
    """Every violation of the four rules in the tree under ``src``, sorted by file and line."""
    src = Path(src)
    modules = find_modules(src)
    files = {_relative(p, src): p.read_text(encoding="utf-8") for p in sorted(src.rglob("*.py"))}
    trees = {m: ast.parse(files[_relative(p, src)], filename=str(p)) for m, p in modules.items()}
    violations = file_lengths(files)
    for module, tree in trees.items():
        violations += function_lengths(_relative(modules[module], src), tree)
    edges = import_edges(modules, trees)
    violations += import_cycles(edges, modules, src) + layering(edges, modules, src)
    return sorted(violations, key=lambda v: (v.path, v.line, v.rule))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", nargs="?", type=Path, default=Path(__file__).resolve().parents[1] / "src",
                        help="the source folder holding nnblocks/ (default: the repository's src/)")
    args = parser.parse_args(argv)
    violations = check(args.src)
    new = [v for v in violations if not v.known(KNOWN_OFFENDERS)]
    for v in violations:
        print(("" if v in new else "known: ") + str(v))
    print(f"{len(new)} violation(s), {len(violations) - len(new)} more in known offenders")
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())
