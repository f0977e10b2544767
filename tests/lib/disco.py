# SPDX-License-Identifier: GPL-2.0-only
"""Discovery datagrams for the tests (mavpn/probe.h): find DISCO_REQ/RESP
in a pcap, send datagrams to the server's UDP port and count answers.

  disco.py find PCAP          print "REQ|RESP src sport dst dport len hex"
  disco.py send HOST PORT HEX [COUNT]
                              send HEX COUNT times from one socket, wait
                              1 s, print "answers=N bytes=M" (and on
                              stderr "sent COUNT in SECONDS s")
"""
import socket
import struct
import sys
import time


def pcap_udp(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    link = struct.unpack(end + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(end + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if link == 1:          # Ethernet
            if len(frame) < 14 or frame[12:14] != b"\x08\x00":
                continue
            ip = frame[14:]
        elif link == 113:      # Linux cooked
            ip = frame[16:]
        else:
            continue
        if len(ip) < 28 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        src = socket.inet_ntoa(ip[12:16])
        dst = socket.inet_ntoa(ip[16:20])
        sport, dport, ulen = struct.unpack(">HHH", ip[ihl:ihl + 6])
        yield src, sport, dst, dport, ip[ihl + 8:ihl + ulen]


def main():
    if sys.argv[1] == "find":
        for src, sport, dst, dport, pl in pcap_udp(sys.argv[2]):
            if pl and pl[0] in (2, 3):
                kind = "REQ" if pl[0] == 2 else "RESP"
                print(kind, src, sport, dst, dport, len(pl), pl.hex())
        return 0
    if sys.argv[1] == "send":
        host, port, pkt = sys.argv[2], int(sys.argv[3]), bytes.fromhex(sys.argv[4])
        count = int(sys.argv[5]) if len(sys.argv) > 5 else 1
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        start = time.time()
        for _ in range(count):
            try:
                s.sendto(pkt, (host, port))
            except BlockingIOError:
                time.sleep(0.001)
        took = time.time() - start
        answers = nbytes = 0
        end = time.time() + 1.0
        while time.time() < end:
            try:
                d = s.recv(2048)
                answers += 1
                nbytes += len(d)
            except BlockingIOError:
                time.sleep(0.01)
        print("answers=%d bytes=%d" % (answers, nbytes))
        sys.stderr.write("sent %d in %.3f s\n" % (count, took))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
