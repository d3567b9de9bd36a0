#!/usr/bin/env python3
"""Compares the README's "Source layout" listing with the Swift files under Sources/.

    python3 Tests/Support/check_layout.py        # prints each difference; exits 1 if there is any

In the listing's code block a line that starts with a folder (`  Mail/Transports/  SMTPTransport ...`)
names that folder's files; an indented line without a folder goes on with the previous one; `#`
starts a comment; the numbered stage headings name no file."""
import os
import re
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
section = readme.split("### Source layout", 1)[1]
block = section.split("```", 2)[1]

listed = set()
base = folder = None
for line in block.splitlines()[1:]:
    text = line.split("#", 1)[0].rstrip()
    if not text.strip():
        continue
    if text.startswith("Sources/"):
        words = text.split()
        base = folder = words[0]
        names = words[1:]
    elif re.match(r"^  \S+/(\s|$)", text):
        words = text.split()
        folder = base + words[0]
        names = words[1:]
    elif text.startswith(" "):
        names = text.split()
    else:
        continue  # a stage heading
    listed.update(os.path.join(folder, name + ".swift") for name in names)

present = set()
for directory in ("Sources/EventFilterKit", "Sources/eventfilter"):
    for path, _, files in os.walk(os.path.join(root, directory)):
        for name in files:
            if name.endswith(".swift"):
                present.add(os.path.relpath(os.path.join(path, name), root))

missing = sorted(present - listed)
extra = sorted(listed - present)
for path in missing:
    print(f"not in README's source layout: {path}")
for path in extra:
    print(f"in README's source layout but not in Sources/: {path}")
print(f"{len(present)} files, {len(missing) + len(extra)} differences")
sys.exit(1 if missing or extra else 0)
