# shellcheck shell=bash disable=SC2034 # sourced by tests/real/run.sh, which reads these variables
# python3 (Debian's /usr/bin/python3, never a pyenv shim): a CPU- and allocation-heavy script
# (dicts, lists, strings, json, sorting); its output is a deterministic digest of the results.
# Debian links the interpreter with --export-dynamic, so the eval loop's name is in .dynsym.
REQUIRES=(/usr/bin/python3)
CMD=(/usr/bin/python3 "$DT_REAL_SRC/work.py")
EXPECT_PROGS=(python3.11)
EXPECT_FNS=('^python3\.11:_PyEval_EvalFrameDefault$' '^python3\.11:(PyDict_|_PyDict_|dict_|PyUnicode_|_PyUnicode_|PyObject_Malloc|_PyObject_)')
