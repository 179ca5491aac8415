#!/usr/bin/env bash
# Prepare the patched 6.12 source tree and build the test-bed kernel (bzImage + kvm modules).
# Incremental: the tree is extracted once; when patches/ changes, the old series is reversed
# and the new one applied, so make rebuilds only what the patches touch.
. "$(dirname "$0")/lib.sh"

prepare_source() {
	local want_src applied new
	want_src=$(basename "$TARBALL")-$(stat -c %s "$TARBALL")
	if [ "$(cat "$KSRC/.rnvmx-tarball" 2>/dev/null)" != "$want_src" ]; then
		log "extracting $TARBALL to $KSRC"
		rm -rf "$KSRC" "$KBUILD"
		mkdir -p "$KSRC"
		tar -xf "$TARBALL" -C "$KSRC" --strip-components=1
		mkdir -p "$KSRC/.rnvmx-applied"
		echo "$want_src" > "$KSRC/.rnvmx-tarball"
	fi
	applied=$(hash_of "$KSRC"/.rnvmx-applied/*.patch)
	new=$(hash_of "$TOP"/patches/*.patch)
	[ "$applied" = "$new" ] && return 0
	log "patch series changed: reversing the old one, applying patches/"
	local p
	for p in $(ls -r "$KSRC"/.rnvmx-applied/*.patch 2>/dev/null); do
		patch -d "$KSRC" -p1 -R -s --no-backup-if-mismatch < "$p" || die "cannot reverse $p"
		rm -f "$p"
	done
	for p in "$TOP"/patches/*.patch; do
		[ -e "$p" ] || continue
		patch -d "$KSRC" -p1 -s --no-backup-if-mismatch < "$p" || die "cannot apply $p"
		cp "$p" "$KSRC/.rnvmx-applied/"
	done
}

configure() {
	local frag=$TOP/testbed/kernel.config want
	want=$(hash_of "$frag")
	[ "$(cat "$KBUILD/.rnvmx-config" 2>/dev/null)" = "$want" ] && [ -f "$KBUILD/.config" ] && return 0
	log "configuring (allnoconfig + testbed/kernel.config)"
	mkdir -p "$KBUILD"
	KCONFIG_ALLCONFIG=$frag "${KMAKE[@]}" allnoconfig >/dev/null
	# Every =y/=m line of the fragment must have survived Kconfig.
	local line missing=0
	while read -r line; do
		case "$line" in CONFIG_*=[ym]) grep -qx "$line" "$KBUILD/.config" || { log "config: $line did not stick"; missing=1; } ;; esac
	done < "$frag"
	[ $missing = 0 ] || die "kernel config fragment not satisfied (is rustc/bindgen available? try: make -C $KSRC LLVM=1 rustavailable)"
	echo "$want" > "$KBUILD/.rnvmx-config"
}

build() {
	log "building kernel ($JOBS jobs)"
	"${KMAKE[@]}" bzImage modules >"$CACHE/kbuild.log" 2>&1 || { tail -40 "$CACHE/kbuild.log"; die "kernel build failed (log: $CACHE/kbuild.log)"; }
	"${KMAKE[@]}" headers_install INSTALL_HDR_PATH="$KBUILD/usr" >/dev/null
}

mkdir -p "$CACHE"
prepare_source
configure
build
log "kernel ready: $KBUILD/arch/x86/boot/bzImage"
