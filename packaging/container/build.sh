#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Build the authsrv container image with podman and no registry:
#
#   debootstrap --variant=minbase bookworm  ->  $CACHE/bookworm-minbase.tar
#   podman import                            ->  localhost/mavpn-base:bookworm
#   podman build authsrv/Containerfile       ->  localhost/mavpn-authsrv:latest
#
# The base tarball is cached outside the repository (MAVPN_CONTAINER_CACHE,
# default /var/cache/mavpn-container) and the imported base image stays in
# podman's storage, so only the first run pays for debootstrap.
# Environment: IMAGE (tag to build), DEBIAN_MIRROR, MAVPN_CONTAINER_CACHE.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${MAVPN_CONTAINER_CACHE:-/var/cache/mavpn-container}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE=localhost/mavpn-base:bookworm
IMAGE=${IMAGE:-localhost/mavpn-authsrv:latest}
# Our podman settings, not the machine's (see containers.conf).
export CONTAINERS_CONF=${CONTAINERS_CONF:-$ROOT/packaging/container/containers.conf}

# Exit status: 0 built, 1 build failed, 3 podman/debootstrap/runc missing
# and not installable, 4 the base image could not be made (mirror).
die() { echo "container: $*" >&2; exit "${2:-1}"; }

# Like `make deps`: install what is missing when we can (root, apt).
missing=()
for tool in podman debootstrap runc; do
	command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "container: installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; }
fi
for tool in podman debootstrap runc; do
	command -v "$tool" >/dev/null ||
		die "$tool is not installed and could not be (apt-get install podman debootstrap runc)" 3
done

if ! podman image exists "$BASE"; then
	tarball=$CACHE/bookworm-minbase.tar
	if [ ! -s "$tarball" ]; then
		mkdir -p "$CACHE"
		rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
		# Remove the half-made rootfs whatever happens; the tarball is
		# renamed into place only when complete.
		trap 'rm -rf "$rootfs" "$tarball.tmp"' EXIT
		echo "container: debootstrap bookworm (minbase) into $rootfs, once"
		debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" \
			> "$CACHE/debootstrap.log" 2>&1 ||
			{ tail -n 20 "$CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/debootstrap.log)" 4; }
		# Clean apt lists and caches: the image gets them fresh.
		rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
		tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
		mv "$tarball.tmp" "$tarball"
		rm -rf "$rootfs"
		trap - EXIT
	fi
	echo "container: podman import $tarball as $BASE"
	podman import --change 'CMD ["/bin/bash"]' "$tarball" "$BASE" >/dev/null
fi

# A small build context: only what the builder stage compiles, never
# build/ or the test artefacts.
ctx=$(mktemp -d /tmp/mavpn-container-ctx.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
cp -r "$ROOT/authsrv" "$ROOT/lib" "$ROOT/include" "$ctx/"
cp "$ROOT/authsrv/Containerfile" "$ctx/Containerfile"

echo "container: podman build $IMAGE"
podman build --pull=never --network=host --format docker \
	--build-arg "BASE=$BASE" -t "$IMAGE" -f "$ctx/Containerfile" "$ctx"
# Earlier builds' images lost their tag: drop them (ours only, by label).
podman image prune -f --filter label=org.mavpn.stage=builder >/dev/null 2>&1
podman image prune -f --filter label=org.mavpn.image=authsrv >/dev/null 2>&1
echo "container: built $IMAGE"
