#!/usr/bin/env bash
# Build the test-bed initramfs: static busybox, testbed/init.sh as /init, the
# KVM modules, rnvmx.ko (if built) and the selftests. Output: $CACHE/initrd.gz
. "$(dirname "$0")/lib.sh"

ST=$CACHE/selftests
R=$CACHE/initramfs
rm -rf "$R"
mkdir -p "$R"/{bin,sbin,proc,sys,dev,tmp,lib/modules,tests}
cp /bin/busybox "$R/bin/busybox"
for a in $("$R/bin/busybox" --list); do
	[ "$a" = busybox ] || ln -s busybox "$R/bin/$a"
done
cp "$TOP/testbed/init.sh" "$R/init"
cp "$KBUILD/virt/lib/irqbypass.ko" "$KBUILD/arch/x86/kvm/kvm.ko" "$KBUILD/arch/x86/kvm/kvm-intel.ko" "$R/lib/modules/"
if [ -f "$TOP/rnvmx.ko" ]; then cp "$TOP/rnvmx.ko" "$R/lib/modules/"; fi
for t in $(test_names); do
	cp "$ST/x86_64/$t" "$R/tests/"
done
for f in "$ST"/rnvmx_*; do [ -f "$f" ] && cp "$f" "$R/tests/"; done
cp "$TOP"/selftests/rnvmx_lifecycle "$TOP"/selftests/rnvmx_mixed "$TOP"/selftests/rnvmx_params \
	"$TOP"/testbed/tp-entries.awk "$R/tests/"
(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1 > "$CACHE/initrd.gz.tmp")
mv "$CACHE/initrd.gz.tmp" "$CACHE/initrd.gz"
log "initramfs: $(du -h "$CACHE/initrd.gz" | cut -f1)"
