#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Build the data-plane test programs by hand (not part of `make all`):
# skeletons through the Makefile, then ctl/datapath/*.c + lib modules + driver.
set -eu
cd "$(dirname "$0")/../.."
make -s build/xdp_overlay.skel.h build/xdp_underlay.skel.h
out=build/dptest
mkdir -p "$out"
gcc -std=gnu11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -Iinclude -Ibuild -Ictl/datapath \
	-o "$out/dp_pair" tests/dp/dp_pair.c ctl/datapath/*.c \
	lib/aead.c lib/wire.c lib/replay.c lib/log.c lib/prefix.c lib/counters.c \
	lib/jsonw.c lib/promhttp.c lib/nl.c \
	-lxdp -lbpf -lelf -lz -lssl -lcrypto -lpthread
make -s build/tests/test_xdp_run
# the driver path, last line: dp_pair.sh reads it
echo "$out/dp_pair"
