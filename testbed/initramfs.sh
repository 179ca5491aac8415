#!/usr/bin/env bash
# Build the test-bed initramfs images:
#  - $CACHE/l1-initrd.gz, L1's: the same kernel booted by QEMU inside the
#    Bochs-booted L0, with busybox, testbed/init.sh as /init, the KVM modules
#    and the selftests testbed/tests.txt names `l1/...` (L1 runs them on its
#    own, built-in nested VMX);
#  - $CACHE/initrd.gz, L0's: busybox-static, testbed/init.sh as /init, the KVM
#    modules, rnvmx.ko (if built), the selftests, and QEMU (Debian's
#    qemu-system-x86: binary, its shared libraries and loader, the firmware it
#    loads) with L1's kernel and initramfs under /l1.
. "$(dirname "$0")/lib.sh"

ST=$CACHE/selftests

# common ROOT: busybox, /init, the KVM modules, the test-bed helpers.
common() {
	local r=$1 a
	rm -rf "$r"
	mkdir -p "$r"/{bin,sbin,proc,sys,dev,tmp,lib/modules,tests}
	cp /bin/busybox "$r/bin/busybox"
	for a in $("$r/bin/busybox" --list); do
		[ "$a" = busybox ] || ln -s busybox "$r/bin/$a"
	done
	cp "$TOP/testbed/init.sh" "$r/init"
	cp "$KBUILD/virt/lib/irqbypass.ko" "$KBUILD/arch/x86/kvm/kvm.ko" \
		"$KBUILD/arch/x86/kvm/kvm-intel.ko" "$r/lib/modules/"
	cp "$ST/rnvmx_tpcount" "$TOP/testbed/tp-entries.awk" "$TOP/testbed/migrate.sh" "$r/tests/"
}

pack() { # ROOT OUT
	(cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1 > "$2.tmp")
	mv "$2.tmp" "$2"
}

# A binary and the shared libraries it loads, with their loader, into ROOT.
with_libs() { # ROOT BINARY DEST
	local r=$1 bin=$2 lib
	cp "$bin" "$r/$3"
	for lib in $(ldd "$bin" | awk '$3 ~ /^\// { print $3 } $1 ~ /^\/lib/ { print $1 }'); do
		mkdir -p "$r/$(dirname "$lib")"
		cp -L "$lib" "$r/$lib"
	done
}

# L1.
R1=$CACHE/initramfs-l1
common "$R1"
for t in $(l1_test_names); do
	if [ -f "$TOP/selftests/kvm/$t.c" ]; then cp "$ST/$t" "$R1/tests/"; else cp "$ST/x86_64/$t" "$R1/tests/"; fi
done
# The workload of the qemu_migrate_* rows (testbed/migrate.sh).
cp "$ST/rnvmx_work_test" "$R1/tests/"
pack "$R1" "$CACHE/l1-initrd.gz"

# L0.
R=$CACHE/initramfs
common "$R"
if [ -f "$TOP/rnvmx.ko" ]; then cp "$TOP/rnvmx.ko" "$R/lib/modules/"; fi
for t in $(test_names); do
	if [ -f "$TOP/selftests/kvm/$t.c" ]; then cp "$ST/$t" "$R/tests/"; else cp "$ST/x86_64/$t" "$R/tests/"; fi
done
for f in "$ST"/rnvmx_*; do [ -f "$f" ] && cp "$f" "$R/tests/"; done
cp "$TOP"/selftests/rnvmx_lifecycle "$TOP"/selftests/rnvmx_mixed "$TOP"/selftests/rnvmx_params \
	"$TOP"/selftests/rnvmx_migrate "$R/tests/"
if [ -n "$(l1_test_names)" ]; then
	mkdir -p "$R/qemu/share" "$R/l1"
	with_libs "$R" /usr/bin/qemu-system-x86_64 qemu/qemu-system-x86_64
	cp /usr/share/seabios/bios-256k.bin /usr/share/qemu/kvmvapic.bin \
		/usr/share/qemu/linuxboot_dma.bin "$R/qemu/share/"
	cp "$KBUILD/arch/x86/boot/bzImage" "$R/l1/bzImage"
	cp "$CACHE/l1-initrd.gz" "$R/l1/initrd.gz"
fi
pack "$R" "$CACHE/initrd.gz"
log "initramfs: $(du -h "$CACHE/initrd.gz" | cut -f1) (L1's: $(du -h "$CACHE/l1-initrd.gz" | cut -f1))"
