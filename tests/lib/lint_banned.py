"""Fails when C sources use functions that invite the classic bugs.

Use fr_strlcpy / snprintf / fr_buf_* / fr_parse_* instead.
"""
import os
import re
import sys

BANNED = ["strcpy", "strcat", "sprintf", "vsprintf", "gets", "strtok", "strtok_r", "atoi", "atol", "atoll",
          "atof", "strncpy", "strncat", "tmpnam", "mktemp"]
PAT = re.compile(r"(?<![A-Za-z0-9_.>])(" + "|".join(BANNED) + r")\s*\(")


def strip_comments_and_strings(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(\\.|[^"\\\n])*"', '""', text)
    return text


def main():
    root = os.environ.get("FRUGAL_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
    bad = []
    nfiles = 0
    for top in ("src", "include", "tests"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            if "node_modules" in dirpath:
                continue
            for f in files:
                if not f.endswith((".c", ".h")):
                    continue
                nfiles += 1
                path = os.path.join(dirpath, f)
                text = strip_comments_and_strings(open(path, encoding="utf-8", errors="replace").read())
                for n, line in enumerate(text.split("\n"), 1):
                    m = PAT.search(line)
                    if m:
                        bad.append("%s:%d: %s()" % (os.path.relpath(path, root), n, m.group(1)))
    for b in bad:
        print(b)
    print("%d files checked, %d banned calls" % (nfiles, len(bad)))
    print("%d passed, %d failed" % (1 if not bad else 0, 1 if bad else 0))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
