#!/usr/bin/env bash
# The README's environment-variable table must list every option of the shim's option table
# (preload/dt_config.c) with the same default, and nothing the table does not have.
# Usage: tests/integration/readme_options.sh BUILD_DIR
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
python3 - "$top/preload/dt_config.c" "$top/README.md" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
table = dict(re.findall(r'\{"(DEIATRACE_[A-Z_]+)",\s*OPT_[A-Z]+,\s*"([^"]*)"', src))
readme = dict(re.findall(r'^\| `(DEIATRACE_[A-Z_]+)` \| `([^`]*)` \|', open(sys.argv[2]).read(), re.M))
bad = []
if len(table) < 5:
    bad.append("found only %d options in dt_config.c: the parser is out of date" % len(table))
for name, default in table.items():
    if name not in readme:
        bad.append("%s is missing from README.md" % name)
    elif readme[name] != default:
        bad.append("%s: README says %r, the option table %r" % (name, readme[name], default))
for name in readme:
    if name not in table:
        bad.append("README.md lists %s, which the shim does not read" % name)
if bad:
    print("FAIL readme_options: " + "; ".join(bad))
    sys.exit(1)
print("PASS readme_options (%d options)" % len(table))
PY
