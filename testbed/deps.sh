#!/usr/bin/env bash
# Install what the build and the test bed need, if missing (root for apt).
. "$(dirname "$0")/lib.sh"

PKGS=(linux-source-6.12 clang lld llvm libclang-dev flex bison libelf-dev libssl-dev bc cpio
      ccache bochs bochsbios vgabios isolinux syslinux-common xorriso busybox-static python3 make
      patch xz-utils gcc g++ binutils libc6-dev perl rsync kmod python3-matplotlib dkms
      qemu-system-x86)
BINDGEN_VERSION=0.69.5

missing=()
for p in "${PKGS[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing Debian packages: ${missing[*]}"
	[ "$(id -u)" = 0 ] || die "need root for apt-get (missing: ${missing[*]})"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v rustup >/dev/null || die "rustup not found: install the stable Rust toolchain with rustup"
rustup component list --installed 2>/dev/null | grep -q '^rust-src' || {
	log "adding rust-src"; rustup component add rust-src; }
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
if [ "$(bindgen --version 2>/dev/null)" != "bindgen $BINDGEN_VERSION" ]; then
	log "installing bindgen-cli $BINDGEN_VERSION"
	cargo install -q bindgen-cli --version "$BINDGEN_VERSION" --locked
fi
log "dependencies present"
