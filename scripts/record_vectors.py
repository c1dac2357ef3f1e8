#!/usr/bin/env python3
"""Golden vectors for the canonical JSON of ledger records (docs/encoding.md, "Records").

An implementation of the rules written from the document, not from the Swift code: members
sorted by the UTF-8 bytes of their names, no spaces, integers in decimal, strings escaping only
the quote, the backslash and characters below U+0020 (\\b \\f \\n \\r \\t, else \\u00xx in lower
case). It prints each record's bytes and their SHA-256; RecordCodingTests builds the same
records in Swift and compares.
Run: python3 scripts/record_vectors.py
"""
import hashlib

SHORT = {0x08: "\\b", 0x0C: "\\f", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}


def string(text):
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif code in SHORT:
            out.append(SHORT[code])
        elif code < 0x20:
            out.append("\\u%04x" % code)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def canonical(value):
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return string(value)
    if isinstance(value, list):
        return "[" + ",".join(canonical(item) for item in value) + "]"
    if isinstance(value, dict):
        names = sorted(value, key=lambda name: name.encode("utf-8"))
        return "{" + ",".join(string(name) + ":" + canonical(value[name]) for name in names) + "}"
    raise TypeError(f"no canonical form for {value!r}")


def h(text): return hashlib.sha256(text.encode()).hexdigest()


RECORDS = {
    "passport": {
        "cadastralNumber": "01-001-001-1", "kind": "apartment", "address": "Astana, Kabanbay batyr 8, кв. 12",
        "area": 8450, "location": {"latitudeMicrodegrees": 51128207, "longitudeMicrodegrees": -71430411},
        "owners": [{"party": "citizen-1", "share": "999999999999/1000000000000"}, {"party": "citizen-2", "share": "1/1000000000000"}],
        "restrictions": [{"id": h("arrest"), "kind": "arrest", "holder": "bailiff-1", "documentHash": h("order"), "since": 1764000000000}],
        "documents": [h("title"), h("order")], "registeredAt": 1764000000000,
    },
    "listing": {"cadastralNumber": "01-001-001-1", "price": 18446744073709551615, "listedAt": 1764000001000,
                "owners": [{"party": "citizen-1", "share": "1"}]},
    "deed": {
        "id": h("deed"), "cadastralNumber": "01-001-001-1",
        "sellers": [{"party": "citizen-1", "share": "1/2"}], "buyers": [{"party": "citizen-3", "share": "1/2", "pays": 4000000}],
        "acceptedPledges": [], "price": 4000000, "signedBy": ["citizen-3"], "holds": [{"party": "citizen-3", "amount": 4000000}],
        "notaryRequired": False, "status": "open", "createdAt": 1764000002000, "expiresAt": 1764604802000,
    },
    "party": {"id": "citizen-4", "roles": ["citizen"], "keys": [], "identityCommitment": h("iin"),
              "name": "Quote \" backslash \\ newline \n tab \t bell \u0007 unit \u001f Әлия / ok"},
    "accessCode": {"salt": h("salt"), "codeHash": h("code")},
}

if __name__ == "__main__":
    for name, record in RECORDS.items():
        text = canonical(record)
        print(f"{name}: {text}")
        print(f"{name} sha256: {hashlib.sha256(text.encode('utf-8')).hexdigest()}")
