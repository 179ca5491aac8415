// SPDX-License-Identifier: GPL-2.0
/*
 * rnvmx's module parameter "bind": whether VMs created from now on are bound
 * to rnvmx (Y, the default) or to kvm-intel's built-in nested VMX (N).  VMs
 * keep the backend they were created with, so a host can start VMs on
 * either backend on purpose, without unloading rnvmx.
 *
 * The backend is registered with kvm-intel exactly while rnvmx is live and
 * bind is Y; writes of the parameter and module init/exit serialise on the
 * module's parameter lock.  (Rust's module! has no parameters in 6.12.)
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/moduleparam.h>

#include "vmx/nested_backend.h"

#include "params.h"

static bool bind = true;
/* The backend table while the module is live (between publish and retract). */
static const struct nested_vmx_backend *live_backend;

static int bind_set(const char *val, const struct kernel_param *kp)
{
	bool on;
	int r = kstrtobool(val, &on);

	if (r)
		return r;
	if (live_backend && on != bind) {
		if (on)
			r = kvm_vmx_register_nested_backend(live_backend);
		else
			kvm_vmx_unregister_nested_backend(live_backend);
		if (!r)
			pr_info("VMs created from now on use %s\n",
				on ? "rnvmx" : "the built-in nested VMX");
	}
	if (!r)
		bind = on;
	return r;
}

static const struct kernel_param_ops bind_ops = {
	.set = bind_set,
	.get = param_get_bool,
};
module_param_cb(bind, &bind_ops, &bind, 0644);
MODULE_PARM_DESC(bind,
		 "Bind VMs created from now on to rnvmx (default Y); N: new VMs use kvm-intel's built-in nested VMX, running VMs keep theirs");

int rnvmx_backend_publish(const struct nested_vmx_backend *backend)
{
	int r = 0;

	kernel_param_lock(THIS_MODULE);
	if (bind)
		r = kvm_vmx_register_nested_backend(backend);
	if (!r)
		live_backend = backend;
	kernel_param_unlock(THIS_MODULE);
	return r;
}

void rnvmx_backend_retract(const struct nested_vmx_backend *backend)
{
	kernel_param_lock(THIS_MODULE);
	if (bind)
		kvm_vmx_unregister_nested_backend(backend);
	live_backend = NULL;
	kernel_param_unlock(THIS_MODULE);
}

/* modinfo fields module! has no key for in 6.12; dkms.conf's PACKAGE_VERSION. */
MODULE_VERSION("0.1.0");
