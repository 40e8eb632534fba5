#!/usr/bin/env python3
"""Structural checks on src/ that the compiler does not make (docs/architecture.md says why):

- the top-level modules under src/ import each other without a cycle (an edge A -> B when a
  file of module A names `crate::B`);
- no file in src/ is over 800 lines;
- src/zab/ is pure: no tokio, no std::fs, no std::net.

Prints what it finds and exits non-zero on a violation.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
MAX_LINES = 800
PURE = ("zab",)
IMPURE = re.compile(r"\b(tokio|std::fs|std::net)\b")


def module_of(path):
    rel = os.path.relpath(path, ROOT)[:-3].split(os.sep)
    if rel[-1] == "mod":
        rel = rel[:-1]
    return rel


def main():
    files = []
    for d, _, names in os.walk(ROOT):
        files += [os.path.join(d, n) for n in names if n.endswith(".rs")]
    errors = []
    graph = {}
    for f in sorted(files):
        text = open(f, encoding="utf-8").read()
        lines = text.count("\n")
        rel = os.path.relpath(f, ROOT)
        if lines > MAX_LINES:
            errors.append(f"src/{rel}: {lines} lines (at most {MAX_LINES})")
        mod = module_of(f)
        if mod and mod[0] in PURE:
            code = re.sub(r"//.*", "", text)
            for m in sorted(set(IMPURE.findall(code))):
                errors.append(f"src/{rel}: the pure core names {m}")
        if not mod or mod[0] in ("lib", "main"):
            continue
        top = mod[0]
        for m in re.findall(r"\bcrate::([a-z_]+)", re.sub(r"//.*", "", text)):
            if m != top:
                graph.setdefault(top, set()).add(m)
    # cycles among top-level modules
    state = {}
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                cyc = stack[stack.index(m):] + [m]
                errors.append("import cycle: " + " -> ".join(cyc))
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    for e in errors:
        print(e)
    print(f"check-structure: {len(files)} files, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
