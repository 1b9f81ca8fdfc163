#!/usr/bin/env python3
"""Writes a synthetic trace whose function names, program name and argv are hostile to XML and HTML
(used by flamegraph.sh and html_browser.sh; not a test by itself).

The names come from a real symbol table: a minimal ELF shared object written here (one PT_LOAD,
.text, .symtab), which the analyzer symbolizes like any module, so names with '/' (`</script>`),
control characters, invalid UTF-8 and a 1 MiB name reach the reporters exactly as a binary holds them.
Trace layout per docs/trace-format.md.

Usage: hostile_trace.py OUT_DIR   -> OUT_DIR/libhostile.so, OUT_DIR/hostile.bin, OUT_DIR/names.json
names.json: [{"name": <what a page must show, as text>, "samples": N, "bytes": N}, ...]
"""
import json
import os
import struct
import sys
import zlib

LONG_NAME_BYTES = 1 << 20
NAME_MAX_CHARS = 4096  # DT_FLAME_NAME_MAX_CHARS: longer names end in U+2026
ROOT = b"hostile_main"
NAMES = [
    b"</script><script>document.body.setAttribute('data-pwned','1')</script>",
    b'"><svg onload=alert(1)>',
    b"a&b<c>'d'&amp;&#x3c;",
    b"]]><x/>",
    b"\x1b[31mred\x1b[0m\x07bell\x7f",
    b"bad\xff\xfeutf8\xc3(\xed\xa0\x80",
    b"<!--x--><img src=x onerror=alert(2)>",
    b"long_" + b"M" * LONG_NAME_BYTES,
]
BIAS = 0x10000000
TEXT_ADDR = 0x1000
FN_BYTES = 0x80


def shown(raw):
    """The text a report shows for raw: invalid UTF-8 as U+FFFD (one per byte, like python's
    decoder for these inputs), C0 controls and DEL as their U+2400 pictures, capped."""
    s = raw.decode("utf-8", errors="replace")
    s = "".join(chr(0x2400 + ord(c)) if ord(c) < 0x20 else "\u2421" if c == "\x7f" else c for c in s)
    return s if len(s) <= NAME_MAX_CHARS else s[:NAME_MAX_CHARS] + "\u2026"


def elf(names):
    """ELF64 ET_DYN, x86-64: .text at TEXT_ADDR, one global function symbol per name."""
    strtab = b"\0"
    syms = [b"\0" * 24]
    for i, n in enumerate(names):
        syms.append(struct.pack("<IBBHQQ", len(strtab), 0x12, 0, 1, TEXT_ADDR + i * FN_BYTES, FN_BYTES))
        strtab += n + b"\0"
    symtab = b"".join(syms)
    shstr = b"\0.text\0.symtab\0.strtab\0.shstrtab\0"
    text = b"\xc3" * 0x1000
    off_text = 0x1000
    off_sym = off_text + len(text)
    off_str = off_sym + len(symtab)
    off_shstr = off_str + len(strtab)
    off_sh = (off_shstr + len(shstr) + 7) & ~7
    ehdr = struct.pack("<4sBBBBB7sHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0, b"\0" * 7, 3, 62, 1, 0, 64,
                       off_sh, 0, 64, 56, 1, 64, 5, 4)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, 0, 0, off_sym, off_sym, 0x1000)

    def sh(name, typ, flags, addr, off, size, link=0, info=0, align=1, entsize=0):
        return struct.pack("<IIQQQQIIQQ", name, typ, flags, addr, off, size, link, info, align, entsize)

    shdrs = (sh(0, 0, 0, 0, 0, 0) + sh(1, 1, 6, TEXT_ADDR, off_text, len(text), align=16) +
             sh(7, 2, 0, 0, off_sym, len(symtab), link=3, info=1, align=8, entsize=24) +
             sh(15, 3, 0, 0, off_str, len(strtab)) + sh(23, 3, 0, 0, off_shstr, len(shstr)))
    img = bytearray(ehdr + phdr)
    img += b"\0" * (off_text - len(img)) + text + symtab + strtab + shstr
    img += b"\0" * (off_sh - len(img)) + shdrs
    return bytes(img)


def trace(modpath, nfuncs):
    def sec(sid, payload):
        return struct.pack("<IIQ", sid, zlib.crc32(payload) & 0xFFFFFFFF, len(payload)) + payload

    def s(b):
        return struct.pack("<I", len(b)) + b

    meta = [0] * 27
    meta[0], meta[3], meta[4], meta[9], meta[10], meta[13], meta[18] = 4242, 10**9, 10**8, 1000, 1, 10**8, 1
    argv = [b"/nonexistent/</title><script>alert(3)</script>", b"</script>", b"\x1b]0;pwn\x07", b"\xff\xfe",
            b'"><svg onload=alert(4)>']
    blob = b"DEIATRC\x1a" + struct.pack("<II", 1, 0)
    blob += sec(1, struct.pack("<I", len(meta)) + b"".join(struct.pack("<Q", v) for v in meta))
    blob += sec(2, s(argv[0]) + struct.pack("<I", len(argv)) + b"".join(s(a) for a in argv))
    hi = BIAS + TEXT_ADDR + (nfuncs + 1) * FN_BYTES
    blob += sec(3, struct.pack("<I", 1) + struct.pack("<QQQI", BIAS, BIAS, hi, 0) + s(modpath.encode()))
    # Stack i: NAMES[i] called from the root function; leaf exact (flag 1).
    root_pc = BIAS + TEXT_ADDR + 0x10
    stacks = [[BIAS + TEXT_ADDR + (i + 1) * FN_BYTES + 0x10, root_pc] for i in range(nfuncs)]
    blob += sec(4, struct.pack("<I", len(stacks)) + b"".join(
        struct.pack("<II", len(st), 1) + b"".join(struct.pack("<Q", pc) for pc in st) for st in stacks))
    cpu = [(i, 10 * (i + 1), 10 * (i + 1) * 10**6) for i in range(nfuncs)]
    blob += sec(5, struct.pack("<I", len(cpu)) + b"".join(struct.pack("<IQQ", *c) for c in cpu))
    # alloc: calls, bytes, frees, freed bytes, peak live, leaked bytes, leaked blocks
    alloc = [(i, i + 1, 1000 * (i + 1), i + 1, 1000 * (i + 1), 0, 0, 0) for i in range(nfuncs)]
    blob += sec(6, struct.pack("<I", len(alloc)) + b"".join(struct.pack("<I7Q", *a) for a in alloc))
    blob += sec(0x7FFF, b"")
    return blob, cpu, alloc


def main():
    d = os.path.abspath(sys.argv[1])
    mod = os.path.join(d, "libhostile.so")
    with open(mod, "wb") as f:
        f.write(elf([ROOT] + NAMES))
    blob, cpu, alloc = trace(mod, len(NAMES))
    with open(os.path.join(d, "hostile.bin"), "wb") as f:
        f.write(blob)
    out = [{"name": shown(n), "samples": cpu[i][1], "bytes": alloc[i][2]} for i, n in enumerate(NAMES)]
    with open(os.path.join(d, "names.json"), "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
