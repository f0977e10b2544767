# SPDX-License-Identifier: GPL-2.0-only
# mavpn build. Everything generated goes to build/ (never committed).

CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
B        := build

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -Iinclude -I$(B) -MMD -MP
LDLIBS_CRYPTO := -lssl -lcrypto
LDLIBS_BPF    := -lxdp -lbpf -lelf -lz
# authsrv's registry: SQLite (embedded) and PostgreSQL (libpq, Debian's
# libpq-dev puts libpq-fe.h under /usr/include/postgresql).
LDLIBS_REG    := -lsqlite3 -lpq
CFLAGS   += -I/usr/include/postgresql

# Every Debian package the project needs: the second column of
# packaging/deps.tsv, which names the package of each command the Makefile
# and the scripts run (tests/check_deps.py keeps it complete and right).
HASH     := \#
DEB_PKGS := $(sort $(shell awk -F'\t' 'NF == 3 && $$1 !~ /^$(HASH)/ { print $$2 }' packaging/deps.tsv))

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(B)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS      := $(patsubst bpf/%.bpf.c,$(B)/%.skel.h,$(BPF_SRCS))

# One folder, one target (docs/architecture.md has the map):
#   lib/           -> build/libmavpn.a     (used by every program)
#   ctl/datapath/  -> build/libdatapath.a  (the AF_XDP data plane, linked into vpnd)
#   ctl/vpnd/      -> build/bin/vpnd
#   ctl/vpnctl/    -> build/bin/vpnctl
#   authsrv/       -> build/bin/authsrv
#   bpf/           -> build/bpf/*.bpf.o and build/*.skel.h (compiled into vpnd)
LIB_SRCS   := $(wildcard lib/*.c)
LIB_OBJS   := $(patsubst %.c,$(B)/%.o,$(LIB_SRCS))
DP_SRCS    := $(wildcard ctl/datapath/*.c)
AUTHSRV_SRCS := $(wildcard authsrv/*.c)
VPNCTL_SRCS  := $(wildcard ctl/vpnctl/*.c)
VPND_SRCS    := $(wildcard ctl/vpnd/*.c)
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRCS))

BINS := $(B)/bin/authsrv $(B)/bin/vpnd $(B)/bin/vpnctl
# BPF_PROG_RUN driver of the XDP programs; a cmocka binary so that
# tests/run.sh counts its cases with the unit tests.
XDP_TEST := $(B)/tests/test_xdp_run

.PHONY: all deps print-deps check demo fuzz unit clean bench bench-authsrv vmtest
all: $(BINS) $(BPF_OBJS) $(UNIT_BINS) $(XDP_TEST)

# The BPF objects are kept: vmtest and bpftool load them directly.
.SECONDARY: $(BPF_OBJS)

# Install every package of packaging/deps.tsv that is missing (one dpkg-query
# call: quick when everything is there). make demo, check, bench and vmtest
# all depend on it.
deps:
	@have=" $$(dpkg-query -W -f='$${db:Status-Abbrev} $${Package}\n' $(DEB_PKGS) 2>/dev/null | \
		awk '$$1 == "ii" { printf "%s ", $$2 }')"; \
	missing=; for p in $(DEB_PKGS); do case $$have in *" $$p "*) ;; *) missing="$$missing $$p" ;; esac; done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing:$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends $$missing; \
	else echo "deps: all $(words $(DEB_PKGS)) Debian packages present"; fi

# The package list `make deps` installs (tests/check_deps.py compares).
print-deps:
	@echo $(DEB_PKGS)

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
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS_CRYPTO) $(LDLIBS_REG)

$(B)/libdatapath.a: $(patsubst %.c,$(B)/%.o,$(DP_SRCS))
	ar rcs $@ $^

$(B)/bin/vpnd: $(patsubst %.c,$(B)/%.o,$(VPND_SRCS)) $(B)/libdatapath.a $(B)/libmavpn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS_BPF) $(LDLIBS_CRYPTO) -lpthread

$(B)/bin/vpnctl: $(patsubst %.c,$(B)/%.o,$(VPNCTL_SRCS)) $(B)/libmavpn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS_CRYPTO)

# (The -MMD .d files add headers as prerequisites: link only .c and .a.)
$(B)/tests/%: tests/unit/%.c $(B)/libmavpn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(filter %.c %.a,$^) -lcmocka $(LDLIBS_CRYPTO)

# The policy driver tests authsrv's own module, not libmavpn.
$(B)/tests/test_policy: tests/unit/test_policy.c authsrv/policy.c authsrv/authsrv.c $(B)/libmavpn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(filter %.c %.a %.o,$^) -lcmocka $(LDLIBS_CRYPTO)

# The CA signer: its wire and the real process, with authsrv's PKI.
$(B)/tests/test_signer: tests/unit/test_signer.c authsrv/signer.c authsrv/pki.c authsrv/authsrv.c $(B)/libmavpn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(filter %.c %.a %.o,$^) -lcmocka $(LDLIBS_CRYPTO)

# The gateway index (LPM over the gateways' routes), with the registry.
REGISTRY_SRCS := authsrv/registry.c authsrv/registry_sqlite.c authsrv/registry_pg.c
$(B)/tests/test_gwindex: tests/unit/test_gwindex.c authsrv/gwindex.c $(REGISTRY_SRCS) authsrv/authsrv.c $(B)/libmavpn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(filter %.c %.a %.o,$^) -lcmocka $(LDLIBS_CRYPTO) $(LDLIBS_REG)

# The registry's two backends through one interface: SQLite always,
# PostgreSQL when MAVPN_TEST_PG_URL names a database
# (tests/integration/test_authsrv_pg.sh runs it against a throw-away one).
$(B)/tests/test_registry: tests/unit/test_registry.c $(REGISTRY_SRCS) authsrv/authsrv.c $(B)/libmavpn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(filter %.c %.a %.o,$^) -lcmocka $(LDLIBS_CRYPTO) $(LDLIBS_REG)

# The gateway table, a pure table: ctl/vpnd/gw.c linked as an ordinary object.
$(B)/tests/test_route: tests/unit/test_route.c $(B)/ctl/vpnd/gw.o $(B)/libmavpn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Ictl/vpnd -o $@ $(filter %.c %.a %.o,$^) -lcmocka $(LDLIBS_CRYPTO)

# vpnd's DNS name cache, a pure table: ctl/vpnd/names.c linked as an ordinary object.
$(B)/tests/test_names: tests/unit/test_names.c $(B)/ctl/vpnd/names.o $(B)/libmavpn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Ictl/vpnd -o $@ $(filter %.c %.a %.o,$^) -lcmocka $(LDLIBS_CRYPTO)

# This one compiles its ctl/vpnd/ module in (#include) to reach its static parts.
$(B)/tests/test_flowlog: tests/unit/test_flowlog.c ctl/vpnd/flowlog.c ctl/vpnd/flowlog.h $(B)/libmavpn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libmavpn.a -lcmocka $(LDLIBS_CRYPTO)

# The data plane's peer table: ctl/datapath/dp_peer.c linked in (no AF_XDP, no netlink).
$(B)/tests/test_dp_peer: tests/unit/test_dp_peer.c ctl/datapath/dp_peer.c $(wildcard ctl/datapath/*.h) $(B)/libmavpn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Ictl/datapath -o $@ $(filter %.c %.a,$^) -lcmocka $(LDLIBS_CRYPTO) -lpthread

$(B)/tests/test_dp_decap: tests/unit/test_dp_decap.c ctl/datapath/dp_decap.c ctl/datapath/dp_peer.c $(wildcard ctl/datapath/*.h) $(B)/libmavpn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Ictl/datapath -o $@ $(filter %.c %.a,$^) -lcmocka $(LDLIBS_CRYPTO) -lpthread

# libFuzzer targets: built with clang, the library sources compiled in.
$(B)/fuzz/%: tests/fuzz/%.c $(LIB_SRCS)
	@mkdir -p $(@D)
	$(CLANG) -g -O1 -std=gnu11 -D_GNU_SOURCE -Iinclude -fsanitize=fuzzer,address,undefined -o $@ $(filter %.c %.a %.o,$^) $(LDLIBS_CRYPTO)

# The policy parser: an operator's file, evaluated against hosts' requests.
$(B)/fuzz/fuzz_policy: tests/fuzz/fuzz_policy.c authsrv/policy.c authsrv/authsrv.c $(LIB_SRCS)
	@mkdir -p $(@D)
	$(CLANG) -g -O1 -std=gnu11 -D_GNU_SOURCE -Iinclude -fsanitize=fuzzer,address,undefined -o $@ $(filter %.c %.a %.o,$^) $(LDLIBS_CRYPTO)

# The signer's request parser: input from the less-trusted server process.
$(B)/fuzz/fuzz_signer_req: tests/fuzz/fuzz_signer_req.c authsrv/signer.c authsrv/pki.c authsrv/authsrv.c $(LIB_SRCS)
	@mkdir -p $(@D)
	$(CLANG) -g -O1 -std=gnu11 -D_GNU_SOURCE -Iinclude -fsanitize=fuzzer,address,undefined -o $@ $(filter %.c %.a %.o,$^) $(LDLIBS_CRYPTO)

$(XDP_TEST): tests/dp/xdp_run.c $(SKELS) include/mavpn/xdp_abi.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< -lcmocka $(LDLIBS_BPF)

# The decapsulation target also needs the data plane's pure parts (no
# AF_XDP, no netlink): the peer table and ctl/datapath/dp_decap.c.
$(B)/fuzz/fuzz_decap: tests/fuzz/fuzz_decap.c ctl/datapath/dp_decap.c ctl/datapath/dp_peer.c $(LIB_SRCS) $(wildcard ctl/datapath/*.h)
	@mkdir -p $(@D)
	$(CLANG) -g -O1 -std=gnu11 -D_GNU_SOURCE -Iinclude -Ictl/datapath -fsanitize=fuzzer,address,undefined -o $@ $(filter %.c,$^) $(LDLIBS_CRYPTO) -lpthread

unit: $(UNIT_BINS) $(XDP_TEST)
	@tests/run-unit.sh $(UNIT_BINS) $(XDP_TEST)

fuzz: $(FUZZ_BINS)
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-120} tests/run-fuzz.sh $(FUZZ_BINS)

# The README's two commands.
check: deps
	$(MAKE) all $(FUZZ_BINS)
	@# The first image build (debootstrap) can outlast one test's timeout:
	@# do it here; test_container then finds it cached (or SKIPs/FAILs).
	-$(MAKE) container
	tests/run.sh

demo: deps
	$(MAKE) all
	tests/demo.sh

# Throughput, packet rate, latency against plain veth, wireguard-go and
# OpenVPN in one run (deps installs them); writes build/bench/.
bench: deps all
	tests/bench/run.sh

# authsrv under load: N hosts connected at once over the real protocol,
# key grants between random pairs (see tests/bench/authsrv_load.c).
# BENCH_ARGS="--hosts 2000 --requests 50000" to change the defaults.
$(B)/bench/authsrv_load: tests/bench/authsrv_load.c $(B)/libmavpn.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(filter %.c %.a %.o,$^) $(LDLIBS_CRYPTO)

bench-authsrv: $(B)/bin/authsrv $(B)/bench/authsrv_load
	$(B)/bench/authsrv_load $(BENCH_ARGS)

# Boot another kernel (Debian 6.1 LTS by default) under QEMU/TCG and run the
# BPF and datapath tests inside it; see vmtest/README.md.
vmtest: deps all
	vmtest/run.sh $(if $(KERNEL),--kernel $(KERNEL))

# ---- install (honours PREFIX and DESTDIR) and the authsrv container ----
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/mavpn
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
SYSCONFDIR  ?= /etc
UNIT_SUBST  := -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	-e 's|@SYSUSERSDIR@|$(SYSUSERSDIR)|g'

.PHONY: install container
# Three binaries: the BPF objects are compiled into vpnd as skeletons.
# Settings files in SYSCONFDIR are never overwritten (upgrades keep them).
install: $(BINS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DOCDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(SYSCONFDIR)/mavpn
	install -m 0755 $(B)/bin/authsrv $(B)/bin/vpnd $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(B)/bin/vpnctl $(DESTDIR)$(BINDIR)/
	install -m 0644 packaging/man/authsrv.8 packaging/man/vpnd.8 \
		packaging/man/vpnctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 README.md docs/operations.md $(DESTDIR)$(DOCDIR)/
	for u in mavpn-authsrv.service mavpn-vpnd@.service; do \
		sed $(UNIT_SUBST) packaging/systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; done
	install -m 0644 packaging/systemd/mavpn.sysusers $(DESTDIR)$(SYSUSERSDIR)/mavpn.conf
	test -e $(DESTDIR)$(SYSCONFDIR)/mavpn/authsrv.env || \
		install -m 0644 packaging/systemd/authsrv.env $(DESTDIR)$(SYSCONFDIR)/mavpn/authsrv.env
	install -m 0644 packaging/systemd/vpnd.env $(DESTDIR)$(SYSCONFDIR)/mavpn/vpnd.env.example

# The authsrv image, built with podman from a local debootstrap base
# (no registry); see packaging/container/build.sh.
container:
	packaging/container/build.sh

clean:
	rm -rf $(B)

# Header dependencies written by -MMD (private headers in ctl/*/, authsrv/).
-include $(shell find $(B) -name '*.d' 2>/dev/null)
