#!/usr/bin/env python3
"""Checks a tsd certificate's inclusion proof with nothing from tsd: the Python standard
library's json (sorted keys, no whitespace = JCS for this record) and hashlib. DESIGN §3-4.
Usage: generic-verify.py CERT.json  -> prints the computed root; exit 0 if it equals anchor.root."""
import hashlib, json, sys

cert = json.load(open(sys.argv[1]))
record = json.dumps(cert["deposit"], sort_keys=True, separators=(",", ":"), ensure_ascii=True)
h = hashlib.sha256(b"\x00" + record.encode()).digest()
fn, sn = cert["proof"]["leafIndex"], cert["proof"]["treeSize"] - 1
for p in cert["proof"]["auditPath"]:
    p = bytes.fromhex(p[2:])
    if fn % 2 == 1 or fn == sn:
        h = hashlib.sha256(b"\x01" + p + h).digest()
        while fn % 2 == 0 and fn != 0:
            fn //= 2
            sn //= 2
    else:
        h = hashlib.sha256(b"\x01" + h + p).digest()
    fn //= 2
    sn //= 2
root = "0x" + h.hex()
print(root)
sys.exit(0 if sn == 0 and root == cert["anchor"]["root"] else 1)
