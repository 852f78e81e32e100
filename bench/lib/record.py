#!/usr/bin/env python3
"""Append one measurement to a JSON-lines file.

    record.py FILE key=value ...

A value is kept as an int or float when it parses as one, else as text. `key=@json:PATH`
embeds the JSON in PATH (null when missing or invalid); `key=@tail:PATH` embeds the last
lines of a text file (stderr of a failed run); `key=@rss:PATH` reads "Maximum resident set
size (kbytes)" from a `/usr/bin/time -v` report.
"""
import json
import sys


def value(v):
    if v.startswith("@json:"):
        try:
            with open(v[6:], encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None
    if v.startswith("@tail:"):
        try:
            with open(v[6:], encoding="utf-8", errors="replace") as f:
                lines = [l.rstrip() for l in f if l.strip()]
            return "\n".join(lines[-4:])
        except OSError:
            return None
    if v.startswith("@rss:"):
        try:
            with open(v[5:], encoding="utf-8", errors="replace") as f:
                for line in f:
                    if "Maximum resident set size" in line:
                        return int(line.rsplit(":", 1)[1])
        except OSError:
            pass
        return None
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def main():
    rec = {}
    for arg in sys.argv[2:]:
        k, _, v = arg.partition("=")
        rec[k] = value(v)
    with open(sys.argv[1], "a", encoding="utf-8") as f:
        f.write(json.dumps(rec, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
