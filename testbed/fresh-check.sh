#!/usr/bin/env bash
# make fresh-check: run the README's `make ab` on a machine that has only the
# README's prerequisites. Builds a minimal Debian 12 root with debootstrap
# under the cache folder (once; FRESH_NEW_BASE=1 rebuilds it), copies the
# host's rustup stable toolchain into it without rust-src and bindgen (the
# README asks only for rustup's stable toolchain), clones the repository's
# committed HEAD into it and runs `make ab` there as root, with its own cold
# caches. Prints the time; exits with make ab's status. Needs root.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || die "fresh-check needs root (debootstrap, chroot, mounts)"
FRESH=$CACHE/fresh
BASE=$FRESH/base.tar.gz
ROOT=$FRESH/root
RUSTUP=${RUSTUP_HOME:-$HOME/.rustup}
# The README's prerequisites beyond a minimal Debian 12 (debootstrap minbase).
PREREQS=(git make ca-certificates)

# The Debian mirror this machine's apt uses (deb822 or one-line sources).
mirror() {
	local m
	m=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	[ -n "$m" ] || m=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
	[ -n "$m" ] || die "no Debian mirror found in /etc/apt"
	echo "$m"
}

unmount_all() {
	local m
	for m in $(awk -v r="$ROOT" '$2 ~ "^"r { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
}
trap unmount_all EXIT

make_base() {
	command -v debootstrap >/dev/null || {
		log "installing debootstrap"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
	}
	local tmp=$FRESH/base.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp"
	log "debootstrap: minimal Debian 12 (bookworm) into $tmp"
	debootstrap --variant=minbase bookworm "$tmp" "$(mirror)" > "$FRESH/debootstrap.log" 2>&1 ||
		{ tail -20 "$FRESH/debootstrap.log"; die "debootstrap failed"; }
	# The same package sources as this machine.
	rm -f "$tmp/etc/apt/sources.list"
	cp /etc/apt/sources.list.d/*.sources "$tmp/etc/apt/sources.list.d/" 2>/dev/null ||
		cp /etc/apt/sources.list "$tmp/etc/apt/sources.list"
	cp /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true
	chroot "$tmp" /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends ${PREREQS[*]} >/dev/null" ||
		die "cannot install the prerequisites in the fresh root"
	tar -C "$tmp" -czf "$BASE.tmp" . && mv "$BASE.tmp" "$BASE"
	rm -rf "$tmp"
}

mkdir -p "$FRESH"
unmount_all
rm -rf "$ROOT"
[ -f "$BASE" ] && [ -z "${FRESH_NEW_BASE:-}" ] || make_base
mkdir -p "$ROOT"
tar -C "$ROOT" -xzf "$BASE"

# rustup's stable toolchain as rustup installs it by default: no rust-src,
# no bindgen (make ab's testbed/deps.sh must add both).
log "copying the rustup stable toolchain"
stable=$(readlink -f "$RUSTUP/toolchains/stable-x86_64-unknown-linux-gnu")
[ -d "$stable" ] || die "no rustup stable toolchain in $RUSTUP"
mkdir -p "$ROOT/root/.rustup/toolchains" "$ROOT/root/.cargo/bin"
cp -a "$stable" "$ROOT/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu"
cp "$RUSTUP/settings.toml" "$ROOT/root/.rustup/" 2>/dev/null || true
sed -i 's/^default_toolchain = .*/default_toolchain = "stable-x86_64-unknown-linux-gnu"/' \
	"$ROOT/root/.rustup/settings.toml" 2>/dev/null || true
for t in rustup cargo rustc rustdoc rustfmt cargo-fmt cargo-clippy clippy-driver; do
	cp -a "$(command -v rustup)" "$ROOT/root/.cargo/bin/$t"
done

log "cloning $(git -C "$TOP" rev-parse --short HEAD) into the fresh root"
git clone -q --no-local "$TOP" "$ROOT/root/rnvmx"

for m in proc sys dev dev/pts; do
	mkdir -p "$ROOT/$m"
	mount --bind "/$m" "$ROOT/$m"
done
mount -t tmpfs tmpfs "$ROOT/tmp"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true

# The machine's own TLS authorities (local CAs of its network, e.g. an egress
# proxy), as a fresh machine of this kind has them: part of the network, not
# of the prerequisites.
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
	cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
	chroot "$ROOT" update-ca-certificates >/dev/null 2>&1 || die "update-ca-certificates failed in the fresh root"
fi

IN_ROOT=(chroot "$ROOT" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8
	PATH=/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
"${IN_ROOT[@]}" sh -c 'rustup component remove rust-src >/dev/null 2>&1; rustup show active-toolchain' ||
	die "the toolchain does not run in the fresh root"

log "make ab in the fresh root ($ROOT)"
start=$(date +%s)
rc=0
"${IN_ROOT[@]}" sh -c 'cd /root/rnvmx && make ab' 2>&1 | tee "$FRESH/make-ab.log" | grep -E '^\[|^test |^[a-z_0-9/]+ +(PASS|FAIL|SKIP|HANG|-) |benchmark|^make' || true
rc=${PIPESTATUS[0]}
secs=$(( $(date +%s) - start ))
for f in ab.tsv bench.tsv ab.svg; do
	[ -s "$ROOT/root/rnvmx/out/$f" ] || { log "fresh root: out/$f missing"; rc=1; }
done
log "fresh-check: make ab exited $rc after $((secs / 60)) min $((secs % 60)) s (log: $FRESH/make-ab.log)"
exit "$rc"
