#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Send crafted data-plane datagrams through the kernel's UDP stack, for
tests/dp/dp_pair.sh: a replay of a captured datagram, one with a forged
tag, one with an unknown key id.

  inject.py PCAP DST_IP PORT KEY_ID
"""
import socket
import struct
import sys


def last_datagram(path, dst, port):
    """UDP payload of the last frame in PCAP sent to DST:PORT."""
    data = open(path, "rb").read()
    off, found = 24, None
    dst_b = socket.inet_aton(dst)
    while off + 16 <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(frame) < 42 or frame[12:14] != b"\x08\x00":
            continue
        ihl = (frame[14] & 0xF) * 4
        if frame[23] != 17 or frame[30:34] != dst_b:
            continue
        udp = 14 + ihl
        if struct.unpack_from("!H", frame, udp + 2)[0] != port:
            continue
        ulen = struct.unpack_from("!H", frame, udp + 4)[0]
        found = frame[udp + 8:udp + ulen]
    return found


def main():
    pcap, dst, port, key_id = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
        int(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    replay = last_datagram(pcap, dst, port)
    if replay is None:
        sys.exit("inject: no datagram to replay in " + pcap)
    s.sendto(replay, (dst, port))
    # same header, a counter far ahead, garbage ciphertext and tag
    hdr = struct.pack("!BBHIQ", 1, 1, 0, key_id, 1 << 40)
    s.sendto(hdr + b"\x55" * 64, (dst, port))
    hdr = struct.pack("!BBHIQ", 1, 1, 0, key_id ^ 0x5A5A5A5A, 7)
    s.sendto(hdr + b"\x55" * 64, (dst, port))


main()
