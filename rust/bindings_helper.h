/* SPDX-License-Identifier: GPL-2.0 */
/* Headers rnvmx binds to; arch/x86/kvm is on the include path. */
#include <linux/debugfs.h>
#include <linux/kvm_host.h>
#include <asm/kvm_page_track.h>
#include "x86.h"
#include "mmu.h"
#include "vmx/vmx.h"
#include "vmx/x86_ops.h"
#include "vmx/vmcs12.h"
#include "vmx/nested.h"
#include "vmx/nested_backend.h"
#include "hyperv.h"
#include "helpers.h"
#include "trace_helpers.h"
#include "params.h"
