#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Turn `name,metric=value` lines from tests/bench/run.sh into a table with
mavpn/peer ratios (results.txt), results.json and a gnuplot PNG chart."""
import json
import os
import shutil
import subprocess
import sys

out = sys.argv[1]
res = {}
for line in sys.stdin:
    line = line.strip()
    if "=" not in line:
        continue
    key, val = line.split("=", 1)
    name, metric = key.split(",", 1)
    try:
        res.setdefault(name, {})[metric] = float(val) if val else None
    except ValueError:
        res.setdefault(name, {})[metric] = None

metrics = [  # key, label, higher is better
    ("tcp1", "TCP 1 stream Gbit/s", True),
    ("tcp4", "TCP 4 streams Gbit/s", True),
    ("udp64", "UDP 64 B rx pkt/s", True),
    ("udp1400", "UDP 1400 B rx pkt/s", True),
    ("rtt", "RTT ms", False),
    ("first", "first packet ms", False),
    ("cpu", "CPU s per Gbit", False),
]
order = [n for n in ("plain", "mavpn", "mavpn-w2", "mavpn-bp", "mavpn-base", "wireguard-go", "openvpn", "nebula")
         if n in res]
peers = [n for n in order if not n.startswith("mavpn")]


def fmt(v):
    if v is None:
        return "n/a"
    return f"{v:.3f}" if v < 100 else f"{v:.0f}"


lines = []
head = f"{'metric':<22}" + "".join(f"{n:>14}" for n in order)
head += "".join(f"{'mavpn/' + n:>20}" for n in peers if "mavpn" in res)
lines.append(head)
for key, label, _ in metrics:
    row = f"{label:<22}" + "".join(f"{fmt(res[n].get(key)):>14}" for n in order)
    if "mavpn" in res:
        for n in peers:
            a, b = res["mavpn"].get(key), res[n].get(key)
            row += f"{(f'{a / b:.2f}x' if a and b else 'n/a'):>20}"
    lines.append(row)
text = "\n".join(lines)
print("\n" + text)
with open(os.path.join(out, "results.txt"), "w") as f:
    f.write(text + "\n")
with open(os.path.join(out, "results.json"), "w") as f:
    json.dump(res, f, indent=1)

if shutil.which("gnuplot"):
    dat = os.path.join(out, "tcp.dat")
    with open(dat, "w") as f:
        for n in order:
            f.write(f"{n} {res[n].get('tcp1') or 0} {res[n].get('tcp4') or 0}\n")
    png = os.path.join(out, "throughput.png")
    script = f"""
set terminal png size 800,450
set output '{png}'
set title 'TCP throughput between two namespaces (Gbit/s)'
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.8 border -1
set yrange [0:*]
set key top right
plot '{dat}' using 2:xtic(1) title '1 stream', '' using 3 title '4 streams'
"""
    subprocess.run(["gnuplot"], input=script.encode(), check=False)
    print(f"chart: {png}")
print(f"table: {os.path.join(out, 'results.txt')}")
