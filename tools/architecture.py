"""Draw the package layers and the message flows from the code, into docs/architecture.md.

    python tools/architecture.py          # rewrite the generated blocks of docs/architecture.md
    python tools/architecture.py --check  # exit 1 when the document no longer matches the code

The layer graph comes from the imports (grimp, which import-linter uses); the flows from the routes in
`papilla/shared/routing.py`: who names a route to send on it, and which actor consumes it.
tests/architecture/test_architecture_doc.py runs `--check` in CI.
"""
from __future__ import annotations

import argparse
import ast
import re
import sys
from collections import defaultdict
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
PACKAGE = ROOT / "papilla"
#: the units drawn: each module belongs to the longest of these prefixes it starts with
UNITS = ("papilla.cli", "papilla.commands", "papilla.console", "papilla.bench", "papilla.devstack", "papilla.client",
         "papilla.identity",
         "papilla.services.workers", "papilla.services.abis", "papilla.services.admission", "papilla.services.capture",
         "papilla.services.extract", "papilla.services.match", "papilla.services.lifecycle", "papilla.shared")
BEGIN, END = "<!-- generated:{name} (tools/architecture.py) -->", "<!-- end:{name} -->"


def unit_of(module: str) -> str | None:
    matches = [u for u in UNITS if module == u or module.startswith(u + ".")]
    return max(matches, key=len) if matches else None


def unit_edges(graph) -> set[tuple[str, str]]:
    """(importer unit, imported unit) for every direct import between two different units."""
    edges = set()
    for module in graph.modules:
        source = unit_of(module)
        for imported in graph.find_modules_directly_imported_by(module):
            target = unit_of(imported)
            if source and target and source != target:
                edges.add((source, target))
    return edges


def _node(unit: str) -> str:
    return unit.removeprefix("papilla.").replace(".", "_")


def _label(unit: str) -> str:
    return unit.removeprefix("papilla.").removeprefix("services.")


def layers_block(graph) -> str:
    lines = ["```mermaid", "flowchart TD"]
    lines += [f'    {_node(u)}["{_label(u)}"]' for u in UNITS]
    lines += [f"    {_node(a)} --> {_node(b)}" for a, b in sorted(unit_edges(graph))]
    lines.append("```")
    return "\n".join(lines)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def route_names() -> dict[str, tuple[str, str]]:
    """Route constant -> (queue, actor), read from routing.py's `NAME = Route("queue", "actor")` lines."""
    tree = ast.parse((PACKAGE / "shared" / "routing.py").read_text())
    routes = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                and getattr(node.value.func, "id", "") == "Route" and len(node.value.args) == 2):
            queue, actor = (ast.literal_eval(a) for a in node.value.args)
            routes[node.targets[0].id] = (queue, actor)
    return routes


def route_users(routes: dict[str, tuple[str, str]]) -> tuple[dict, dict]:
    """Who consumes each route (an actor declared with `actor_name=R.actor`) and who names it otherwise."""
    consumers, producers = defaultdict(set), defaultdict(set)
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        if module == "papilla.shared.routing":
            continue
        tree = ast.parse(path.read_text())
        consumed = {kw.value.value.id for node in ast.walk(tree) if isinstance(node, ast.Call)
                    for kw in node.keywords if kw.arg == "actor_name" and isinstance(kw.value, ast.Attribute)
                    and isinstance(kw.value.value, ast.Name)}
        named = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id in routes}
        where = module.removeprefix("papilla.")
        for name in consumed & set(routes):
            consumers[name].add(where)
        for name in named - consumed:
            producers[name].add(where)
    return consumers, producers


def _flow_node(where: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", where)


def flows_drawing(routes: dict, consumers: dict, producers: dict) -> list[str]:
    """Senders → queue → consuming module, one node per queue (several routes may share a queue)."""
    lines = ["```mermaid", "flowchart LR"]
    queues = sorted({queue for queue, _ in routes.values()})
    lines += [f'    q_{_flow_node(q)}[("{q}")]' for q in queues]
    modules = sorted(set().union(*consumers.values(), *producers.values()))
    lines += [f'    m_{_flow_node(m)}["{m}"]' for m in modules]
    edges = set()
    for name, (queue, _) in routes.items():
        edges |= {f"    m_{_flow_node(m)} --> q_{_flow_node(queue)}" for m in producers[name]}
        edges |= {f"    q_{_flow_node(queue)} --> m_{_flow_node(m)}" for m in consumers[name]}
    return lines + sorted(edges) + ["```"]


def flows_block() -> str:
    routes = route_names()
    consumers, producers = route_users(routes)
    lines = flows_drawing(routes, consumers, producers) + [""]
    lines += ["| route | queue | actor | consumed in | named in (senders; runtime maps who waits) |", "|---|---|---|---|---|"]
    for name, (queue, actor) in routes.items():
        lines.append(f"| `{name}` | `{queue}` | `{actor}` | {', '.join(sorted(consumers[name])) or '-'} "
                     f"| {', '.join(sorted(producers[name])) or '-'} |")
    return "\n".join(lines)


def generated_blocks() -> dict[str, str]:
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph("papilla")
    return {"layers": layers_block(graph), "flows": flows_block()}


def render(document: str, blocks: dict[str, str]) -> str:
    for name, body in blocks.items():
        begin, end = BEGIN.format(name=name), END.format(name=name)
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
        if not pattern.search(document):
            raise SystemExit(f"{DOC.name} has no {begin} … {end} block")
        document = pattern.sub(lambda _: f"{begin}\n{body}\n{end}", document)
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/architecture.md is out of date")
    args = parser.parse_args(argv)
    current = DOC.read_text()
    wanted = render(current, generated_blocks())
    if args.check:
        if wanted != current:
            print("docs/architecture.md does not match the code: run python tools/architecture.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
