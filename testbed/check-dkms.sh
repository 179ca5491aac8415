#!/usr/bin/env bash
# DKMS builds and installs rnvmx for the test-bed kernel the way an admin's
# `dkms install` does for the running one (Documentation/real-hardware.md),
# in private DKMS trees so the machine's own are untouched; then modinfo of
# the installed module shows what an out-of-tree module is expected to say.
. "$(dirname "$0")/lib.sh"

command -v dkms >/dev/null || die "dkms not installed (testbed/deps.sh)"
name=$(sed -n 's/^PACKAGE_NAME="\(.*\)"/\1/p' "$TOP/dkms.conf")
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$TOP/dkms.conf")
kver=$(cat "$KBUILD/include/config/kernel.release")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
src=$tmp/src/$name-$ver
mkdir -p "$src" "$tmp/dkms" "$tmp/install"
# What a release tarball holds: the tracked files.
git -C "$TOP" ls-files -z | (cd "$TOP" && xargs -0 cp --parents -t "$src")
trees=(--sourcetree "$tmp/src" --dkmstree "$tmp/dkms" --installtree "$tmp/install")
run() {
	dkms "$@" "${trees[@]}" -m "$name" -v "$ver" > "$tmp/dkms.log" 2>&1 ||
		{ cat "$tmp/dkms.log"; die "dkms $1 failed"; }
}
run add
run build -k "$kver" --kernelsourcedir "$KBUILD"
mkdir -p "$tmp/install/$kver"   # the kernel's module tree, as /lib/modules/$kver
run install -k "$kver" --kernelsourcedir "$KBUILD" --no-depmod
ko=$(find "$tmp/install/$kver" -name "$name.ko" | head -1)
[ -n "$ko" ] || die "dkms install left no $name.ko under $tmp/install/$kver"
log "dkms installed ${ko#"$tmp/install/"} for $kver"
info=$(/usr/sbin/modinfo "$ko")
echo "$info" | sed 's/^/  /'
for field in "description:" "author:" "license:" "version:[[:space:]]*$ver\$" \
	"parm:[[:space:]]*bind:" "depends:.*kvm-intel" "import_ns:[[:space:]]*KVM_VMX_NESTED"; do
	echo "$info" | grep -qE "^$field" || die "modinfo $name.ko: no '$field'"
done
log "dkms: add, build, install of $name $ver against $kver; modinfo complete"
