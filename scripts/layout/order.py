#!/usr/bin/env python3
"""order.py BINARY TRACE...: the symbol ordering file (lld's --symbol-ordering-file) for BINARY from the page
traces touch-trace.so wrote while BINARY ran: every function on a page that ran, in the order the pages first
ran, earlier traces first. BINARY must be the build that was traced, one function per page: a trace holds
offsets into it."""
import bisect
import struct
import subprocess
import sys


def functions(binary):
    """(start, end, name) of each defined code symbol, by address."""
    listing = subprocess.run(["nm", "--numeric-sort", "--print-size", "--defined-only", binary],
                             capture_output=True, text=True, check=True).stdout
    found = []
    for line in listing.splitlines():
        fields = line.split(maxsplit=3)
        if len(fields) == 4 and fields[2] in "tTwW":
            start = int(fields[0], 16)
            found.append((start, start + max(int(fields[1], 16), 1), fields[3]))
    return found


def pages(trace):
    data = open(trace, "rb").read()
    return struct.unpack(f"<{len(data) // 8}Q", data)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    code = functions(sys.argv[1])
    starts = [start for start, _, _ in code]
    ordered = {}
    for trace in sys.argv[2:]:
        for page in pages(trace):
            # The function that starts at or before the page may reach into it; then any that start in it.
            i = max(bisect.bisect_right(starts, page) - 1, 0)
            while i < len(code) and code[i][0] < page + 4096:
                if code[i][1] > page:
                    ordered.setdefault(code[i][2])
                i += 1
    sys.stdout.write("".join(name + "\n" for name in ordered))


main()
