"""Imports between the shop's packages run one way, from the edges to the core.

The layers, from the top (as ../shared/CONVENTIONS.md writes them): the app and its
commands; the web (every blueprint's views, the back office, the API); the use cases
(quotes, checkout, payments, accounts, guides); orders and carts; stock; the catalogue;
mail; and the base (db, money, errors, config, extensions). A module may import its own
package and anything in a lower layer, never a higher one, and never a package beside it
(same layer) unless the edge is in ALLOWED below, with its reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

SHOP = Path(__file__).resolve().parent.parent / "shop"

LAYERS: dict[str, int] = {
    # base
    "db": 0,
    "config": 0,
    "money": 0,
    "errors": 0,
    "countries": 0,
    "tax": 1,
    "input_guard": 0,
    "extensions": 1,
    "urls": 1,
    "wording": 1,
    "forms": 1,
    "shared_cache": 2,
    "mail": 2,
    # domain, from the core out
    "catalog": 3,
    "inventory": 4,
    "orders": 5,
    "cart": 5,
    "quotes": 6,
    "checkout": 6,
    "payments": 6,
    "accounts": 6,
    "guides": 6,
    # the web: views of every package, and the packages that are only web
    "web": 7,
    "admin": 7,
    "api": 7,
    "seo": 7,
    "health": 7,
    "compression": 7,
    "error_pages": 7,
    "demo": 7,
    "audit": 7,
    "logs": 7,
    # the commands, the application, and the package that exports it
    "cli": 8,
    "app": 9,
    "__init__": 10,
}

# Modules of a domain package that belong to the web layer (blueprints and their routes).
WEB_MODULES = {"views"}

# Edges between packages of one layer that are allowed, each with its reason.
ALLOWED: dict[tuple[str, str], str] = {
    ("shop.cart.views", "shop.catalog.views"): (
        "a failed add to cart re-renders the product page it came from, with the error on "
        "the quantity field"
    ),
}


def _node(module: str) -> str:
    """The layer key of a module: its package, or `web` for a package's views."""
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    if len(parts) > 2 and parts[2] in WEB_MODULES:
        return "web"
    return parts[1]


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    relative = path.relative_to(SHOP.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    found: set[str] = set()
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "shop":
                found.update(f"shop.{alias.name}" for alias in node.names)
            elif node.module.startswith("shop."):
                found.add(node.module)
                found.update(
                    f"{node.module}.{alias.name}"
                    for alias in node.names
                    if (SHOP.parent / node.module.replace(".", "/") / alias.name).is_dir()
                    or (SHOP.parent / node.module.replace(".", "/") / f"{alias.name}.py").exists()
                )
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("shop."))
    return found


def edges(*, top_level_only: bool = False) -> list[tuple[str, str]]:
    found = []
    for path in sorted(SHOP.rglob("*.py")):
        source = _module_name(path)
        for target in _imports(path, top_level_only=top_level_only) - {source}:
            found.append((source, target))
    return found


def test_every_package_has_a_layer() -> None:
    packages = {_package(_module_name(p)) for p in SHOP.rglob("*.py")}
    assert packages - LAYERS.keys() == set()


def test_imports_run_one_way_from_the_edges_to_the_core() -> None:
    wrong = []
    for source, target in edges():
        if _package(source) == _package(target) and (
            LAYERS[_node(source)] >= LAYERS[_node(target)]
        ):
            continue  # within a package, anything but its services importing its views
        up_or_sideways = LAYERS[_node(source)] <= LAYERS[_node(target)]
        if up_or_sideways and (source, target) not in ALLOWED:
            wrong.append(f"{source} -> {target}")
    assert wrong == []


def test_every_allowed_edge_is_still_needed() -> None:
    assert set(ALLOWED) <= set(edges())


def test_no_module_imports_itself_round_a_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for source, target in edges(top_level_only=True):
        graph.setdefault(source, set()).add(target)
    seen: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[str] = []

    def visit(module: str, path: list[str]) -> None:
        seen[module] = 1
        for target in sorted(graph.get(module, ())):
            if seen.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in seen:
                visit(target, [*path, target])
        seen[module] = 2

    for module in sorted(graph):
        if module not in seen:
            visit(module, [module])
    assert cycles == []
