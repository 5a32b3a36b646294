#!/usr/bin/env python3
"""Embeds a text file (the flame graph's JavaScript) into a C++ header as a string constant.

Usage: embed_text.py SYMBOL INPUT OUTPUT

The input's leading '//' comment lines document the file and are left out; every other byte is
kept exactly, so the string is the file from its first line of code to its end."""
import sys


def c_literal_lines(data: bytes):
    line = ""
    for byte in data:
        if byte == 0x0A:
            yield line + "\\n"
            line = ""
        elif byte == 0x5C:
            line += "\\\\"
        elif byte == 0x22:
            line += '\\"'
        elif 0x20 <= byte < 0x7F:
            line += chr(byte)
        else:
            line += "\\%03o" % byte
    if line:
        yield line


def main():
    symbol, source, output = sys.argv[1:4]
    with open(source, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    while lines and lines[0].startswith(b"//"):
        lines.pop(0)
    body = b"".join(lines)
    out = [
        "// Generated from %s by tools/embed_text.py: do not edit." % source.rsplit("/", 1)[-1],
        "#pragma once",
        "",
        "namespace pyat {",
        "",
        "inline constexpr char %s[] =" % symbol,
    ]
    literal = ['    "%s"' % piece for piece in c_literal_lines(body)] or ['    ""']
    literal[-1] += ";"
    out += literal
    out += ["", "}  // namespace pyat", ""]
    with open(output, "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
