#!/usr/bin/env python3
"""Check composed messages with Python's strict e-mail parser.

Usage: check_mime.py MESSAGE.eml [MESSAGE.eml ...]

For each MESSAGE.eml it checks:
  * the raw bytes: 7-bit ASCII, CRLF line endings only (no bare LF or CR), no line over 998
    characters, a final CRLF;
  * parsing with email.policy.strict (which raises on any defect), plus the defects recorded on
    every part and every header;
  * required headers, each exactly once: Date (parseable), From, To, Subject, Message-ID
    (<left@right>), MIME-Version: 1.0, Auto-Submitted: auto-generated;
  * the body: either a single text/plain part, or multipart/alternative holding exactly
    text/plain then text/html; every text part utf-8 and well-formed quoted-printable
    (escapes, 76-character lines, no trailing whitespace).

If MESSAGE.expect.json exists beside it, the decoded values must equal its keys (all optional):
  "subject", "from_name", "from_address", "to_name", "to_address", "text", "html".
Line endings in "text" and "html" are compared as LF.

Exits 0 when every message passes; otherwise prints one line per problem (file: problem) on
stderr and exits 1. Exit status 2 means a usage error.
"""

import email
import email.header
import email.policy
import json
import os
import re
import sys

REQUIRED = ["Date", "From", "To", "Subject", "Message-ID", "MIME-Version", "Auto-Submitted"]
MESSAGE_ID = re.compile(r"^<[^<>@\s]+@[^<>@\s]+>$")


def raw_problems(raw):
    problems = []
    try:
        raw.decode("ascii")
    except UnicodeDecodeError as error:
        problems.append("non-ASCII byte at offset %d" % error.start)
    without_crlf = raw.replace(b"\r\n", b"")
    if b"\n" in without_crlf:
        problems.append("bare LF (line ending without CR)")
    if b"\r" in without_crlf:
        problems.append("bare CR (CR without LF)")
    for number, line in enumerate(raw.split(b"\r\n"), 1):
        if len(line) > 998:
            problems.append("line %d is %d characters long (limit 998)" % (number, len(line)))
    if not raw.endswith(b"\r\n"):
        problems.append("message does not end with CRLF")
    return problems


def header_problems(part, where):
    problems = []
    for name in part.keys():
        for value in part.get_all(name) or []:
            for defect in getattr(value, "defects", ()):
                problems.append("%sheader %s: %s" % (where, name, defect.__class__.__name__ + ": " + str(defect)))
    return problems


QP_ESCAPE = re.compile(r"=(?![0-9A-F]{2}|$)")


def quoted_printable_problems(payload, where):
    """RFC 2045 §6.7: '=' only before two upper-case hex digits or a line end, lines at most
    76 characters, no whitespace at a line end. Python's decoder tolerates all of these."""
    problems = []
    for number, line in enumerate(payload.split("\r\n"), 1):
        if len(line) > 76:
            problems.append("%squoted-printable line %d is %d characters long (limit 76)" % (where, number, len(line)))
        if QP_ESCAPE.search(line):
            problems.append("%squoted-printable line %d has a bad '=' escape: %r" % (where, number, line))
        if line.endswith((" ", "\t")):
            problems.append("%squoted-printable line %d ends with whitespace" % (where, number))
    return problems


def text_part_problems(part, where):
    problems = quoted_printable_problems(part.get_payload(decode=False), where)
    if part.get_content_charset() != "utf-8":
        problems.append("%scharset is %r, expected utf-8" % (where, part.get_content_charset()))
    if part.get("Content-Transfer-Encoding", "").lower() != "quoted-printable":
        problems.append("%sContent-Transfer-Encoding is %r, expected quoted-printable"
                        % (where, part.get("Content-Transfer-Encoding")))
    return problems


def display_name(message, name, address):
    """The display name as RFC 2047 §6.2 decodes it.

    CPython's address parser (3.11) keeps the folding whitespace between adjacent encoded-words
    in a display name, which RFC 2047 says to drop (its unstructured parser drops it, so subjects
    are fine). For encoded names, decode the raw header with email.header, which follows the RFC.
    """
    raw = next((value for key, value in message.raw_items() if key.lower() == name.lower()), "")
    if "=?" not in raw:
        return address.display_name
    text = str(email.header.make_header(email.header.decode_header(raw.replace("\r\n", ""))))
    suffix = " <%s>" % address.addr_spec
    return text[: -len(suffix)] if text.endswith(suffix) else address.display_name


def check(path):
    with open(path, "rb") as handle:
        raw = handle.read()
    problems = raw_problems(raw)
    try:
        message = email.message_from_bytes(raw, policy=email.policy.strict)
    except Exception as error:  # strict policy raises on the first defect
        return problems + ["strict parser: %s: %s" % (error.__class__.__name__, error)]

    for name in REQUIRED:
        count = len(message.get_all(name) or [])
        if count != 1:
            problems.append("header %s appears %d times, expected once" % (name, count))
    for index, part in enumerate(message.walk()):
        where = "" if index == 0 else "part %d: " % index
        if part.defects:
            problems.append("%sdefects %r" % (where, part.defects))
        problems.extend(header_problems(part, where))
    if problems:
        return problems

    if message["Date"].datetime is None:
        problems.append("Date %r does not parse" % str(message["Date"]))
    if not MESSAGE_ID.match(str(message["Message-ID"])):
        problems.append("Message-ID %r is not <left@right>" % str(message["Message-ID"]))
    if str(message["MIME-Version"]) != "1.0":
        problems.append("MIME-Version is %r" % str(message["MIME-Version"]))
    if str(message["Auto-Submitted"]) != "auto-generated":
        problems.append("Auto-Submitted is %r" % str(message["Auto-Submitted"]))
    for name in ("From", "To"):
        if len(message[name].addresses) != 1:
            problems.append("%s has %d addresses, expected one" % (name, len(message[name].addresses)))

    decoded = {"subject": str(message["Subject"])}
    for name in ("From", "To"):
        if message[name].addresses:
            address = message[name].addresses[0]
            decoded[name.lower() + "_name"] = display_name(message, name, address)
            decoded[name.lower() + "_address"] = address.addr_spec

    content_type = message.get_content_type()
    if content_type == "text/plain":
        problems.extend(text_part_problems(message, ""))
        decoded["text"] = message.get_content()
    elif content_type == "multipart/alternative":
        parts = list(message.iter_parts())
        types = [part.get_content_type() for part in parts]
        if types != ["text/plain", "text/html"]:
            problems.append("multipart/alternative holds %s, expected text/plain then text/html" % types)
        else:
            problems.extend(text_part_problems(parts[0], "part 1: "))
            problems.extend(text_part_problems(parts[1], "part 2: "))
            decoded["text"] = parts[0].get_content()
            decoded["html"] = parts[1].get_content()
    else:
        problems.append("Content-Type is %s, expected text/plain or multipart/alternative" % content_type)

    expect_path = re.sub(r"\.eml$", "", path) + ".expect.json"
    if os.path.exists(expect_path):
        with open(expect_path, encoding="utf-8") as handle:
            expected = json.load(handle)
        for key, want in expected.items():
            got = decoded.get(key)
            if key in ("text", "html") and got is not None:
                got, want = got.replace("\r\n", "\n"), want.replace("\r\n", "\n")
            if got != want:
                problems.append("decoded %s is %r, expected %r" % (key, got, want))
    return problems


def main(arguments):
    if not arguments or arguments[0] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 2
    failed = False
    for path in arguments:
        try:
            problems = check(path)
        except OSError as error:
            problems = ["cannot read: %s" % error]
        for problem in problems:
            print("%s: %s" % (path, problem), file=sys.stderr)
        failed = failed or bool(problems)
    if not failed:
        print("%d message(s) passed" % len(arguments))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
