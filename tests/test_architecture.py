"""The layout's rules, checked on the source (every import counted, inside functions too):
no import cycle among prefit's modules or among its direct sub-packages, and the layers only
import downwards: infrastructure <- model / spl <- stages <- builtin / api <- cli."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PKG = "prefit"

# Each layer may import only the layers listed after it (and itself).
LAYERS = [
    ("cli", {"prefit.cli"}),
    ("api", {"prefit", "prefit.api", "prefit.builtin", "prefit.demo"}),
    ("stages", {"prefit.stages"}),
    ("model and spl", {"prefit.model", "prefit.spl"}),
    ("infrastructure", {"prefit.errors", "prefit.jsonl", "prefit.resume", "prefit.distributed", "prefit.drugs", "prefit.logs"}),
]


def _modules() -> dict[str, Path]:
    mods = {}
    for p in (SRC / PKG).rglob("*.py"):
        name = ".".join(p.relative_to(SRC).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = p
    return mods


def _targets(mods: dict[str, Path], cur: str, node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = cur.split(".")
        if node.level:
            base = base[: len(base) - node.level + (1 if mods[cur].name == "__init__.py" else 0)]
            mod = ".".join(base + ([node.module] if node.module else []))
        else:
            mod = node.module or ""
        names = [mod] + [f"{mod}.{a.name}" for a in node.names]
    out = []
    for t in names:
        while t and t not in mods:
            t = t.rpartition(".")[0]
        if t and t != cur and t != PKG and not cur.startswith(t + "."):
            out.append(t)
    return out


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        for node in ast.walk(ast.parse(p.read_text(), str(p))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges[m].update(_targets(mods, m, node))
    return edges


def collapse(edges: dict[str, set[str]], depth: int = 2) -> dict[str, set[str]]:
    top = lambda m: ".".join(m.split(".")[:depth])  # noqa: E731
    g: dict[str, set[str]] = {}
    for m, ts in edges.items():
        g.setdefault(top(m), set()).update(top(t) for t in ts if top(t) != top(m))
    return g


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_modules():
    assert cycles(import_graph()) == []


def test_no_import_cycle_among_direct_sub_packages():
    g = collapse(import_graph())
    assert {"prefit.stages", "prefit.model", "prefit.spl", "prefit.cli"} <= set(g)
    assert cycles(g) == []


def _layer(module: str) -> int:
    for i, (_, members) in enumerate(LAYERS):
        if any(module == m or module.startswith(m + ".") for m in members if m != "prefit") or module == "prefit":
            return i
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")


def test_layers_import_only_downwards():
    wrong = [f"{m} -> {t}" for m, ts in import_graph().items() for t in ts if _layer(t) < _layer(m)]
    assert wrong == []


def test_stages_do_not_import_each_other_upstream():
    """augment -> train -> export -> score is the data's direction; a stage may use an earlier one
    (export reads a run's recipe, builtin trains and exports) but never a later one."""
    order = ["prefit.stages.augment", "prefit.stages.train", "prefit.stages.export", "prefit.stages.score"]
    rank = lambda m: next((i for i, s in enumerate(order) if m == s or m.startswith(s + ".")), None)  # noqa: E731
    wrong = [f"{m} -> {t}" for m, ts in import_graph().items() for t in ts
             if rank(m) is not None and rank(t) is not None and rank(t) > rank(m)]
    assert wrong == []
