#!/usr/bin/env bash
# rnvmx.ko calls no function of nested.c (the C backend) but
# get_vmx_mem_address(), which handle_invpcid() shares, and reads only
# nested.c's two module parameters (patch 5): compare the module's undefined
# symbols with what the built nested.o defines.
. "$(dirname "$0")/lib.sh"

ko=$TOP/rnvmx.ko
nested=$KBUILD/arch/x86/kvm/vmx/nested.o
[ -f "$ko" ] && [ -f "$nested" ] || die "build the kernel and the module first"
defined=$(nm --defined-only "$nested" | awk '$2 ~ /^[TDBR]$/ { print $3 }' | sort -u)
imported=$(nm -u "$ko" | awk '{ print $2 }' | sort -u)
shared=$(comm -12 <(echo "$defined") <(echo "$imported"))
allowed="enable_shadow_vmcs get_vmx_mem_address nested_early_check"
[ "$(echo $shared)" = "$allowed" ] ||
	die "rnvmx.ko imports from nested.c: $(echo $shared) (allowed: $allowed)"
log "rnvmx.ko imports $(echo "$imported" | wc -l) symbols; from nested.c only $allowed"
