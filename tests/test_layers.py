"""Architecture rules, checked on the source: import floors, no cycles, one reader of the environment."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "livecast"
FLOORS = ["schema", "resolvers", "domain", "providers"]
"""Each layer may import only the layers to its right (and settings)."""


def all_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def imports(path: Path) -> set[str]:
    return {name for name in all_imports(path) if name.startswith("livecast")}


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FLOORS else None


def modules() -> dict[str, Path]:
    return {
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): path
        for path in PACKAGE.rglob("*.py")
    }


def test_no_upward_imports() -> None:
    violations = []
    for name, path in modules().items():
        own = layer(name)
        if own is None:
            continue
        allowed = set(FLOORS[FLOORS.index(own) :])
        for imported in imports(path):
            target = layer(imported)
            top = imported.split(".")[1] if "." in imported else ""
            if (target is not None and target not in allowed) or top in ("app", "cli", "runtime", "workers"):
                violations.append(f"{name} imports {imported}")
    assert violations == []


def test_no_import_cycles() -> None:
    mods = modules()
    graph = {name: {i for i in imports(path) if i in mods and i != name} for name, path in mods.items()}
    visiting, done, cycles = set(), set(), []

    def visit(node: str, trail: list[str]) -> None:
        if node in done:
            return
        if node in visiting:
            cycles.append([*trail[trail.index(node) :], node])
            return
        visiting.add(node)
        for nxt in graph[node]:
            visit(nxt, [*trail, node])
        visiting.discard(node)
        done.add(node)

    for name in graph:
        visit(name, [])
    assert cycles == []


def test_only_settings_reads_the_environment() -> None:
    readers = [
        name
        for name, path in modules().items()
        if name != "livecast.settings" and ("os.environ" in (text := path.read_text()) or "getenv" in text)
    ]
    assert readers == []


def test_orm_and_sdks_stay_in_their_layers() -> None:
    for name, path in modules().items():
        roots = {imported.split(".")[0] for imported in all_imports(path)}
        if layer(name) != "domain":
            assert not roots & {"tortoise", "aerich"}, f"{name} imports the ORM"
        if layer(name) != "providers":
            assert not roots & {"pyrtmp", "mux_python", "livekit", "bitstring"}, f"{name} imports a provider SDK"


def test_modules_stay_small() -> None:
    too_long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > 320}
    assert too_long == {}
