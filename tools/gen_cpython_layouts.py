#!/usr/bin/env python3
"""Turn probes/cpython/*.conf into a C++ table (included by userspace/cpython/cpython_layout.cpp),
with --greenlet, probes/greenlet/*.conf into one for userspace/runtimes/greenlet/greenlet_layout.cpp, and with
--twisted, probes/twisted/*.conf (names only: every value is a string) into one for
userspace/runtimes/twisted/twisted_description.cpp, with --gevent, probes/greenlet/gevent/*.conf
(names only too) into one for userspace/runtimes/greenlet/gevent_description.cpp, with
--asyncio-awaited-by, probes/asyncio/awaited_by/*.conf (names, and decimal numbers for the few
_asyncio struct offsets) into one for userspace/runtimes/asyncio/awaited_by_description.cpp, with
--asyncio-names, probes/asyncio/names/*.conf (names only) into one for
userspace/runtimes/asyncio/asyncio_description.cpp, and with --usdt,
probes/cpython/usdt/*.conf (what each version's USDT probes do) into one for
userspace/cpython/cpython_usdt.cpp, and with --asyncio, probes/asyncio/*.conf (offsets, enumerators and
the Python-level names asyncio is read through) into one for userspace/runtimes/asyncio/asyncio_layout.cpp.

Usage: gen_cpython_layouts.py [--greenlet|--twisted|--gevent|--usdt|--asyncio|--asyncio-names|
                              --asyncio-awaited-by] OUTPUT.inc CONF [CONF...]

Each CONF holds `key = value` lines (`#` comments). `version = X.Y` names the interpreter;
every other key is a member of pyat::CpythonLayout, values are integers (decimal or 0x...) or
identifiers (enumerators). Unknown members fail the C++ build, so typos cannot pass silently.
"""
import re
import sys

KEY = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")
VALUE = re.compile(r"^(0x[0-9a-fA-F]+|-?[0-9]+|[A-Za-z_][A-Za-z0-9_]*)$")
STRING_KEYS = {"switch_symbol"}
ENUM_MEMBERS = {"line_table": "LineTableFormat::", "dict_layout": "DictLayout::",
                "instance_dict": "InstanceDict::", "function_probes": "FunctionProbes::",
                "awaited_rule": "AwaitedRule::", "frame_stack": "FrameStack::"}
INTEGER = re.compile(r"^(0x[0-9a-fA-F]+|-?[0-9]+)$")


def parse_mixed(path):
    """--asyncio: integers and enumerators (ENUM_MEMBERS) as such, every other value a C string
    (names such as `asyncio.tasks` or `gather.<locals>._done_callback`, space-separated lists)."""
    entries, version = [], None
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            key, sep, value = (part.strip() for part in line.partition("="))
            if not sep or not KEY.match(key) or not value or '"' in value or "\\" in value:
                sys.exit(f"{path}:{number}: expected `key = value`, got {raw.strip()!r}")
            if key == "version":
                if not re.match(r"^\d+\.\d+$", value):
                    sys.exit(f"{path}:{number}: version must read MAJOR.MINOR")
                version = tuple(int(x) for x in value.split("."))
            elif key in ENUM_MEMBERS:
                if not VALUE.match(value):
                    sys.exit(f"{path}:{number}: bad enumerator {value!r}")
                entries.append((key, ENUM_MEMBERS[key] + value))
            elif INTEGER.match(value):
                entries.append((key, value))
            else:
                entries.append((key, f'"{value}"'))
    if version is None:
        sys.exit(f"{path}: no `version = X.Y` line")
    return version, entries


def parse_names(path, release_key, numbers=False):
    """`<release_key> = X.Y` names the release; every other value is kept as a C string (with
    `numbers`, a decimal value is kept as a number)."""
    entries, version = [], None
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            key, sep, value = (part.strip() for part in line.partition("="))
            if not sep or not KEY.match(key) or not value or '"' in value or "\\" in value:
                sys.exit(f"{path}:{number}: expected `key = value`, got {raw.strip()!r}")
            if key == release_key:
                if not re.match(r"^\d+\.\d+$", value):
                    sys.exit(f"{path}:{number}: {release_key} must read MAJOR.MINOR")
                version = tuple(int(x) for x in value.split("."))
                continue
            if numbers and re.match(r"^[0-9]+$", value):
                entries.append((key, value))
                continue
            entries.append((key, f'"{value}"'))
    if version is None:
        sys.exit(f"{path}: no `{release_key} = X.Y` line")
    return version, entries


def parse(path):
    entries, version = [], None
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            key, sep, value = (part.strip() for part in line.partition("="))
            if not sep or not KEY.match(key):
                sys.exit(f"{path}:{number}: expected `key = value`, got {raw.strip()!r}")
            if key == "greenlet":
                entries.append(("greenlet_major", value))
                continue
            if key == "python":
                key = "version"
            if key == "version":
                if not re.match(r"^\d+\.\d+$", value):
                    sys.exit(f"{path}:{number}: version must read MAJOR.MINOR")
                version = tuple(int(x) for x in value.split("."))
                continue
            value = value.split("#", 1)[0].strip()
            if not VALUE.match(value):
                sys.exit(f"{path}:{number}: bad value {value!r}")
            if key in STRING_KEYS:
                entries.append((key, f'"{value}"'))
                continue
            entries.append((key, ENUM_MEMBERS.get(key, "") + value))
    if version is None:
        sys.exit(f"{path}: no `version = X.Y` line")
    return version, entries


def main():
    args = sys.argv[1:]
    modes = ("--greenlet", "--twisted", "--gevent", "--usdt", "--asyncio", "--asyncio-names", "--asyncio-awaited-by")
    mode = args[0] if args and args[0] in modes else ""
    if mode:
        args = args[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    struct, function, parser = {
        "--greenlet": ("GreenletLayout", "generated_greenlet_layouts", parse),
        "--twisted": ("TwistedDescription", "generated_twisted_descriptions", lambda p: parse_names(p, "twisted")),
        "--gevent": ("GeventDescription", "generated_gevent_descriptions", lambda p: parse_names(p, "gevent")),
        "--asyncio-awaited-by": ("AwaitedByDescription", "generated_awaited_by_descriptions",
                                 lambda p: parse_names(p, "python", numbers=True)),
        "--usdt": ("CpythonUsdt", "generated_cpython_usdt", parse),
        "--asyncio": ("AsyncioLayout", "generated_asyncio_layouts", parse_mixed),
        "--asyncio-names": ("AsyncioDescription", "generated_asyncio_descriptions",
                            lambda p: parse_names(p, "python")),
        "": ("CpythonLayout", "generated_cpython_layouts", parse),
    }[mode]
    layouts = sorted(parser(p) + (p,) for p in args[1:])
    out = [f"// Generated by tools/gen_cpython_layouts.py from probes/: do not edit.", ""]
    out.append(f"static std::vector<{struct}> {function}() {{")
    out.append(f"    std::vector<{struct}> all;")
    for (major, minor), entries, path in layouts:
        source = ("/" + path.replace("\\", "/")).split("/probes/")[-1]
        out.append("    {")
        out.append(f"        {struct} l{{}};")
        out.append(f"        l.major = {major};")
        out.append(f"        l.minor = {minor};")
        out.append(f'        l.source = "probes/{source}";')
        for key, value in entries:
            out.append(f"        l.{key} = {value};")
        out.append("        all.push_back(l);")
        out.append("    }")
    out.append("    return all;")
    out.append("}")
    with open(args[0], "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
