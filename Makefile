# SPDX-License-Identifier: GPL-2.0-only
# mavpn build. Everything generated goes to build/ (never committed).

CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
B        := build

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -Iinclude -I$(B)
LDLIBS_CRYPTO := -lssl -lcrypto
LDLIBS_BPF    := -lxdp -lbpf -lelf -lz

DEB_PKGS := clang llvm libbpf-dev libxdp-dev bpftool xdp-tools libssl-dev \
	libcmocka-dev libsqlite3-dev libelf-dev zlib1g-dev iproute2 ethtool \
	iperf3 tcpdump tshark curl netcat-openbsd python3 libclang-rt-14-dev \
	openssl util-linux procps qemu-system-x86 busybox-static

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(B)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS      := $(patsubst bpf/%.bpf.c,$(B)/%.skel.h,$(BPF_SRCS))

LIB_SRCS   := $(wildcard lib/*.c)
LIB_OBJS   := $(patsubst %.c,$(B)/%.o,$(LIB_SRCS))
AUTHSRV_SRCS := $(wildcard authsrv/*.c)
VPNCTL_SRCS  := $(wildcard ctl/vpnctl*.c)
VPND_SRCS    := $(filter-out $(VPNCTL_SRCS),$(wildcard ctl/*.c))
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRCS))

BINS := $(B)/bin/authsrv $(B)/bin/vpnd $(B)/bin/vpnctl

.PHONY: all deps check demo fuzz unit clean bench vmtest
all: $(BINS) $(BPF_OBJS) $(UNIT_BINS)

# The BPF objects are kept: vmtest and bpftool load them directly.
.SECONDARY: $(BPF_OBJS)

# Install every Debian package the project needs; a no-op when all are there.
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing:" $$missing; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	else echo "deps: all Debian packages present"; fi

$(B)/vmlinux.h:
	@mkdir -p $(@D)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(B)/bpf/%.bpf.o: bpf/%.bpf.c $(B)/vmlinux.h $(wildcard include/mavpn/*.h bpf/lib/*.h)
	@mkdir -p $(@D)
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -I$(B) -Iinclude -Ibpf -c $< -o $@.tmp.o
	$(BPFTOOL) gen object $@ $@.tmp.o && rm -f $@.tmp.o

$(B)/%.skel.h: $(B)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@.tmp && mv $@.tmp $@

$(B)/%.o: %.c $(wildcard include/mavpn/*.h) | $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/libmavpn.a: $(LIB_OBJS)
	ar rcs $@ $^

$(B)/bin/authsrv: $(patsubst %.c,$(B)/%.o,$(AUTHSRV_SRCS)) $(B)/libmavpn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS_CRYPTO) -lsqlite3

$(B)/bin/vpnd: $(patsubst %.c,$(B)/%.o,$(VPND_SRCS)) $(B)/libmavpn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS_BPF) $(LDLIBS_CRYPTO) -lpthread

$(B)/bin/vpnctl: $(patsubst %.c,$(B)/%.o,$(VPNCTL_SRCS)) $(B)/libmavpn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS_CRYPTO)

$(B)/tests/%: tests/unit/%.c $(B)/libmavpn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(LDLIBS_CRYPTO)

# libFuzzer targets: built with clang, the library sources compiled in.
$(B)/fuzz/%: tests/fuzz/%.c $(LIB_SRCS)
	@mkdir -p $(@D)
	$(CLANG) -g -O1 -std=gnu11 -D_GNU_SOURCE -Iinclude -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS_CRYPTO)

unit: $(UNIT_BINS)
	@tests/run-unit.sh $(UNIT_BINS)

fuzz: $(FUZZ_BINS)
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-120} tests/run-fuzz.sh $(FUZZ_BINS)

# The README's two commands.
check: deps
	$(MAKE) all $(FUZZ_BINS)
	tests/run.sh

demo: deps
	$(MAKE) all
	tests/demo.sh

# Throughput, packet rate, latency against plain veth, wireguard-go and
# OpenVPN in one run (installs them if missing); writes build/bench/.
bench: deps all
	@for p in wireguard-go wireguard-tools openvpn gnuplot-nox; do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; fi
	tests/bench/run.sh

# Boot another kernel (Debian 6.1 LTS by default) under QEMU/TCG and run the
# BPF and datapath tests inside it; see vmtest/README.md.
vmtest: deps all
	vmtest/run.sh $(if $(KERNEL),--kernel $(KERNEL))

clean:
	rm -rf $(B)
