"""House rules of issue 14, measured on the source tree with the standard library's `ast`.

Run from the repository root: `.venv/bin/python tools/house.py [--strict]`. It lists

- modules of craft_dag/, assets/, resources/ and jobs/ over 450 lines;
- asset bodies over 40 lines: functions decorated with a Dagster asset decorator (`@asset`,
  `@multi_asset`, `@asset_check`, ...), counted from the first statement after the docstring
  to the last line of the function;
- import cycles between the subpackages of craft_dag/ (craft_dag/<name>/), twice: through
  module-level imports (those run at import time, `if TYPE_CHECKING:` blocks included, since
  they are still a dependency of the layer), and through all imports, function-local ones
  included. The second list exists because a cycle hidden inside a function is still a cycle:
  the fix is to move the shared code down a layer, not to defer the import.

With --strict it exits 1 when any list is non-empty. Nothing is imported or executed.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Source folder -> the package it is installed as (pyproject's package-dir mapping).
PACKAGES = {
    "craft_dag": "craft_dag",
    "assets": "craft_dag.assets",
    "resources": "craft_dag.resources",
    "jobs": "craft_dag.jobs",
}
MAX_MODULE_LINES = 450
MAX_ASSET_BODY_LINES = 40
ASSET_DECORATORS = frozenset(
    {
        "asset",
        "multi_asset",
        "graph_asset",
        "graph_multi_asset",
        "asset_check",
        "multi_asset_check",
        "observable_source_asset",
        "multi_observable_source_asset",
    }
)


@dataclass(frozen=True)
class Edge:
    """One import of subpackage `target` by a module of subpackage `source`."""

    source: str
    target: str
    where: str  # path:line
    local: bool  # inside a function


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the four source folders."""
    found: dict[str, Path] = {}
    for folder, package in PACKAGES.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = path.relative_to(root / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


def long_modules(files: dict[str, Path], root: Path = ROOT) -> list[tuple[str, int]]:
    """(path, lines) of each module over MAX_MODULE_LINES, longest first."""
    counts = [(str(p.relative_to(root)), len(p.read_text().splitlines())) for p in files.values()]
    return sorted(((p, n) for p, n in counts if n > MAX_MODULE_LINES), key=lambda x: -x[1])


def _decorator_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _body_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = fn.body
    if (
        len(body) > 1
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]  # the docstring is documentation, not body
    return (fn.end_lineno or body[-1].lineno) - body[0].lineno + 1


def long_asset_bodies(files: dict[str, Path], root: Path = ROOT) -> list[tuple[str, str, int]]:
    """(path:line, function, body lines) of each asset-decorated function over the limit."""
    out = []
    for path in files.values():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if not any(_decorator_name(d) in ASSET_DECORATORS for d in node.decorator_list):
                continue
            lines = _body_lines(node)
            if lines > MAX_ASSET_BODY_LINES:
                out.append((f"{path.relative_to(root)}:{node.lineno}", node.name, lines))
    return sorted(out, key=lambda x: -x[2])


def _subpackages(root: Path = ROOT) -> set[str]:
    return {p.parent.name for p in (root / "craft_dag").glob("*/__init__.py")}


def _subpackage_of(module: str, subpackages: set[str]) -> str | None:
    parts = module.split(".")
    if len(parts) >= 2 and parts[0] == "craft_dag" and parts[1] in subpackages:
        return parts[1]
    return None


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:  # relative: resolve against the importing module's package
        base = module.split(".")
        base = base if is_package else base[:-1]
        base = base[: len(base) - (node.level - 1)]
        stem = ".".join([*base, node.module] if node.module else base)
    else:
        stem = node.module or ""
    # `from craft_dag import captioning` imports the subpackage itself.
    return [stem, *(f"{stem}.{a.name}" for a in node.names)]


def _walk_imports(tree: ast.AST):
    """Yield (import node, inside a function) for every import in the tree."""

    def visit(node: ast.AST, local: bool):
        for child in ast.iter_child_nodes(node):
            inner = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, local
            yield from visit(child, inner)

    yield from visit(tree, False)


def import_edges(files: dict[str, Path], root: Path = ROOT) -> list[Edge]:
    """Imports from one craft_dag subpackage into another."""
    subs = _subpackages(root)
    edges = []
    for module, path in files.items():
        source = _subpackage_of(module, subs)
        if source is None:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node, local in _walk_imports(tree):
            targets = {
                t
                for name in _imported(node, module, path.name == "__init__.py")
                if (t := _subpackage_of(name, subs)) is not None and t != source
            }
            for target in sorted(targets):
                edges.append(Edge(source, target, f"{path.relative_to(root)}:{node.lineno}", local))
    return edges


def cycles(edges: list[Edge]) -> list[list[str]]:
    """The strongly connected components with more than one subpackage (Tarjan), sorted."""
    graph: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        graph[e.source].add(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
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

    for v in sorted(set(graph) | {t for ts in graph.values() for t in ts}):
        if v not in index:
            strong(v)
    return sorted(found)


def cycle_pairs(edges: list[Edge]) -> dict[tuple[str, str], list[Edge]]:
    """Pairs (a, b), a < b, importing each other directly, with the imports of both ways."""
    by_pair: dict[tuple[str, str], list[Edge]] = defaultdict(list)
    for e in edges:
        by_pair[(e.source, e.target)].append(e)
    return {
        (a, b): by_pair[(a, b)] + by_pair[(b, a)]
        for a, b in sorted(by_pair)
        if a < b and (b, a) in by_pair
    }


@dataclass
class Report:
    long_modules: list[tuple[str, int]]
    long_assets: list[tuple[str, str, int]]
    module_edges: list[Edge]
    all_edges: list[Edge]

    @property
    def module_cycles(self) -> list[list[str]]:
        return cycles(self.module_edges)

    @property
    def all_cycles(self) -> list[list[str]]:
        return cycles(self.all_edges)

    @property
    def violations(self) -> int:
        return (
            len(self.long_modules)
            + len(self.long_assets)
            + len(self.module_cycles)
            + len(self.all_cycles)
        )


def measure(root: Path = ROOT) -> Report:
    files = modules(root)
    edges = import_edges(files, root)
    return Report(
        long_modules(files, root),
        long_asset_bodies(files, root),
        [e for e in edges if not e.local],
        edges,
    )


def _format_cycles(title: str, edges: list[Edge]) -> list[str]:
    found = cycles(edges)
    lines = [f"{title}: {len(found)}"]
    for component in found:
        lines.append("  one component: " + ", ".join(component))
        inside = sorted(
            {(e.source, e.target) for e in edges if {e.source, e.target} <= set(component)}
        )
        lines.append("    its edges: " + ", ".join(f"{a}->{b}" for a, b in inside))
    if found:
        lines.append("  subpackages importing each other directly:")
    for (a, b), both in cycle_pairs(edges).items():
        lines.append(f"    {a} <-> {b}:")
        for e in both:
            lines.append(
                f"      {e.source} -> {e.target}  {e.where}{'  (in a function)' * e.local}"
            )
    return lines


def render(report: Report) -> str:
    lines = [f"modules over {MAX_MODULE_LINES} lines: {len(report.long_modules)}"]
    lines += [f"  {n:5d}  {p}" for p, n in report.long_modules]
    lines.append(f"asset bodies over {MAX_ASSET_BODY_LINES} lines: {len(report.long_assets)}")
    lines += [f"  {n:5d}  {name}  ({where})" for where, name, n in report.long_assets]
    lines += _format_cycles("import cycles between craft_dag subpackages, module-level imports",
                            report.module_edges)  # fmt: skip
    lines += _format_cycles("import cycles, function-local imports included", report.all_edges)
    lines.append(f"violations: {report.violations}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strict", action="store_true", help="exit 1 on any violation")
    args = parser.parse_args(argv)
    report = measure()
    print(render(report))
    return 1 if args.strict and report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
