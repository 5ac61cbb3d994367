#!/usr/bin/env python3
"""export_map.py HEADER OUT: writes the linker version script of libcltrain.so, which
exports the functions marked CT_API in the public header and hides everything else
(the library's internal functions stay reachable only through the static library)."""
import re
import sys

text = open(sys.argv[1], encoding="utf-8").read()
text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)  # comments hold example calls
names = sorted(set(re.findall(r"\bCT_API\b[^;{]*?\b(ct_\w+)\s*\(", text)))
if not names:
    sys.exit("export_map.py: no CT_API functions in " + sys.argv[1])
with open(sys.argv[2], "w", encoding="utf-8") as f:
    f.write("CLTRAIN_0 {\n  global:\n")
    for n in names:
        f.write("    %s;\n" % n)
    f.write("  local:\n    *;\n};\n")
