#!/usr/bin/env python3
"""Merge pcap files into one, ordered by packet timestamp (like mergecap -w).

usage: pcap_merge.py OUT IN [IN...]

sluiced's window clock is per core and never goes backwards, so captures with
different timelines must be interleaved by time before they are replayed on
one core. Classic pcap only (what sluice-gen writes), one link type.
"""
import heapq
import struct
import sys


def records(path):
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            sys.exit(f"pcap_merge: {path}: not a pcap file")
        magic = struct.unpack("<I", hdr[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            endian = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            endian = ">"
        else:
            sys.exit(f"pcap_merge: {path}: not a classic pcap file")
        nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
        yield hdr
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                return
            sec, frac, incl, _ = struct.unpack(endian + "IIII", rh)
            data = f.read(incl)
            yield (sec * 10**9 + (frac if nano else frac * 1000), rh + data)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip())
    its = [records(p) for p in sys.argv[2:]]
    headers = [next(it) for it in its]
    if len({h[:4] + h[20:24] for h in headers}) != 1:
        sys.exit("pcap_merge: the inputs differ in byte order, time unit or link type")
    with open(sys.argv[1], "wb") as out:
        out.write(headers[0])
        n = 0
        for _, rec in heapq.merge(*its, key=lambda r: r[0]):
            out.write(rec)
            n += 1
    print(f"pcap_merge: {n} packets from {len(its)} file(s) into {sys.argv[1]}")


if __name__ == "__main__":
    main()
