#!/usr/bin/env python3
"""Dump CPython line tables, with the line the interpreter itself gives each instruction.

Run by the interpreter whose tables are wanted (3.8 to 3.13); writes one fixture that
tests/unit/test_line_table.cpp decodes with pyat::line_for_offset and compares, offset by offset:

    /usr/bin/python3.11 tools/gen_linetable_fixtures.py tests/unit/fixtures/linetables/3.11.txt

Code objects: every one (nested ones included) of a few stdlib modules, compiled from their source,
plus a synthetic module with the awkward cases (line gaps past 127 and 255, backwards lines, basic
blocks longer than 255 bytes, columns past 127, instructions without a line).

Format, one code object per two lines (hex is the raw co_lnotab / co_linetable):
    code NAME FIRSTLINENO CODE_BYTES TABLE_HEX|-
    lines OFFSET:LINE OFFSET:LINE ...
`lines` gives, for every even byte offset from OFFSET on until the next pair, the expected line;
LINE is "-" where the interpreter has no line for the instruction. Expected lines come from
co_lines() on 3.10+ and from dis.findlinestarts on 3.8/3.9 (the line of the last start at or
before the offset).
"""

import dis
import os
import sys
import types

MODULES = ["json/decoder.py", "asyncio/base_events.py", "asyncio/tasks.py", "argparse.py"]


def synthetic_source():
    parts = []
    # A line gap of 300 (lnotab splits it in (0, 127) pairs; 3.10 in (0, 127) pairs too;
    # 3.11 uses a long svarint) and one of 1000.
    parts.append("def far_lines(a):\n    x = a\n" + "\n" * 300 + "    y = x + 1\n" + "\n" * 1000 + "    return y\n")
    # Backwards lines: a multi-line call whose CALL is attributed to an earlier line.
    parts.append(
        "def backwards(f, a, b, c):\n"
        "    return f(\n"
        "        a,\n"
        "        b,\n"
        "        c,\n"
        "    )\n"
    )
    # A loop: the jump back and the loop test.
    parts.append(
        "def loop(n):\n"
        "    total = 0\n"
        "    while n > 0:\n"
        "        total += n\n"
        "        n -= 1\n"
        "    for i in range(3):\n"
        "        total += i\n"
        "    return total\n"
    )
    # A basic block of far more than 255 bytes on one line, then a new line.
    parts.append("def long_block(a):\n    x = [" + ", ".join("a + %d" % i for i in range(200)) + "]\n    return x\n")
    # Columns past 127 (3.11+ long form), and past 255.
    parts.append("def wide(a):\n    x = " + " + ".join(["a"] * 120) + "\n    return x\n")
    # A lambda, comprehensions, a generator, async, try/finally, with, a class, a decorator.
    parts.append(
        "import contextlib\n"
        "def everything(items, lock):\n"
        "    key = lambda v: -v\n"
        "    squares = [v * v for v in items if v]\n"
        "    table = {v: v for v in items}\n"
        "    gen = (v for v in items)\n"
        "    try:\n"
        "        with lock:\n"
        "            s = sorted(items, key=key)\n"
        "    except (ValueError, TypeError) as e:\n"
        "        s = None\n"
        "    else:\n"
        "        s = s or []\n"
        "    finally:\n"
        "        squares = None\n"
        "    return s, squares, table, gen\n"
        "async def coro(q):\n"
        "    async with q as x:\n"
        "        async for y in x:\n"
        "            await y\n"
        "    return [z async for z in q]\n"
        "class Klass:\n"
        "    attr = 1\n"
        "    @contextlib.contextmanager\n"
        "    def method(self):\n"
        "        yield self.attr\n"
        "        \n"
        "        \n"
        "        return None\n"
    )
    # A deep nest of conditionals and early exits: lots of jumps, lines without instructions.
    body = ["def branches(a, b):\n"]
    for i in range(40):
        body.append("    if a == %d:\n        return b + %d\n    elif b == %d:\n        a += 1\n" % (i, i, i))
    body.append("    return None\n")
    parts.append("".join(body))
    # Starting far down the file.
    parts.append("\n" * 5000 + "def deep_in_file():\n    return 1\n")
    return "\n".join(parts)


def all_codes(code):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from all_codes(const)


def expected_lines(code):
    """The line of every 2-byte code unit (None: no line)."""
    n = len(code.co_code)
    lines = [None] * (n // 2)
    if sys.version_info >= (3, 10):
        for start, end, line in code.co_lines():
            for off in range(start, min(end, n), 2):
                lines[off // 2] = line
    else:
        starts = list(dis.findlinestarts(code))
        current = code.co_firstlineno
        j = 0
        for off in range(0, n, 2):
            while j < len(starts) and starts[j][0] <= off:
                current = starts[j][1]
                j += 1
            lines[off // 2] = current
    return lines


def raw_table(code):
    if sys.version_info >= (3, 10):
        return code.co_linetable
    return code.co_lnotab


def runs(lines):
    out = []
    previous = object()
    for i, line in enumerate(lines):
        if line != previous:
            out.append("%d:%s" % (i * 2, "-" if line is None else line))
            previous = line
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: %s OUTPUT" % sys.argv[0])
    stdlib = os.path.dirname(os.__file__)
    sources = []
    for rel in MODULES:
        path = os.path.join(stdlib, rel)
        with open(path, encoding="utf-8") as f:
            sources.append((rel, f.read()))
    sources.append(("<synthetic>", synthetic_source()))

    version = "%d.%d" % sys.version_info[:2]
    fmt = "lnotab" if sys.version_info < (3, 10) else "linetable310" if sys.version_info < (3, 11) else "location_table"
    out = [
        "# Line tables of CPython %s (%s), made by tools/gen_linetable_fixtures.py from %s."
        % (sys.version.split()[0], sys.executable, ", ".join(name for name, _ in sources)),
        "version %s" % version,
        "format %s" % fmt,
    ]
    count = 0
    for name, text in sources:
        for code in all_codes(compile(text, name, "exec")):
            table = raw_table(code)
            out.append(
                "code %s %d %d %s"
                % (code.co_name.replace(" ", "_"), code.co_firstlineno, len(code.co_code), table.hex() or "-")
            )
            out.append("lines " + " ".join(runs(expected_lines(code))))
            count += 1
    with open(sys.argv[1], "w") as f:
        f.write("\n".join(out) + "\n")
    print("%s: %d code objects" % (sys.argv[1], count))


if __name__ == "__main__":
    main()
