#!/usr/bin/env python3
"""Rewrites ILGPU's inline-asm operand depots in a kernel's PTX into registers, to show what ptxas makes of it.

ILGPU 1.5.3 passes every CudaAsm output (each mma.sync result, each cvt) through a 4-byte .local array — a
`mov.b64 %rdN, __local_depotK`, then `st.local` / `ld.local` through %rdN. ptxas normally promotes them back to
registers, but not in a function that contains a cp.async (doc/PERFORMANCE.md, "cp.async stages"). This script does
the promotion in the text: each depot becomes a .b32 register, its st.local / ld.local become mov.b32. It refuses
(exit 1) if a depot's address register is written more than once or used other than by those loads and stores.

usage: ILGPU_STYLE_PTX_DIR=/tmp/ptx bench/ptx-report.sh     # keeps the PTX of every kernel
       bench/ptx-depots.py IN.ptx OUT.ptx && ptxas -arch=sm_90 -v OUT.ptx -o /dev/null
"""
import re
import sys


def rewrite(ptx: str) -> tuple[str, int]:
    depots = re.findall(r'^\t\.local \.align 4 \.b8 (__local_depot\d+)\[4\];\n', ptx, re.M)
    register = {}
    for address, depot in re.findall(r'^\tmov\.b64\t(%rd\d+), (__local_depot\d+);\n', ptx, re.M):
        writes = len(re.findall(r'^\t[a-z][\w.]*\t' + re.escape(address) + r',', ptx, re.M))
        if writes != 1:
            raise ValueError(f"{address} (the address of {depot}) is written {writes} times")
        register[address] = '%dep' + depot[len('__local_depot'):]
    ptx = re.sub(r'^\t\.local \.align 4 \.b8 __local_depot\d+\[4\];\n', '', ptx, flags=re.M)
    ptx = re.sub(r'^\tmov\.b64\t%rd\d+, __local_depot\d+;\n', '', ptx, flags=re.M)
    ptx = re.sub(r'^\tst\.local\.[bfus]32\t\[(%rd\d+)\], ([^;]+);',
                 lambda m: f"\tmov.b32\t{register[m[1]]}, {m[2]};" if m[1] in register else m[0], ptx, flags=re.M)
    ptx = re.sub(r'^\tld\.local\.[bfus]32\t(%\w+), \[(%rd\d+)\];',
                 lambda m: f"\tmov.b32\t{m[1]}, {register[m[2]]};" if m[2] in register else m[0], ptx, flags=re.M)
    left = [line for line in ptx.splitlines() if any(r in register for r in re.findall(r'(%rd\d+)\b', line))]
    if left:
        raise ValueError("a depot address is used other than by st.local / ld.local: " + left[0].strip())
    ptx = ptx.replace('\t.reg .pred', f'\t.reg .b32\t%dep<{len(depots)}>;\n\t.reg .pred', 1)
    return ptx, len(depots)


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    try:
        text, count = rewrite(open(sys.argv[1]).read())
    except ValueError as e:
        sys.exit(f"ptx-depots: {e}")
    open(sys.argv[2], 'w').write(text)
    print(f"{count} depots → registers")
