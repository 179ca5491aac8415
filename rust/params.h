/* SPDX-License-Identifier: GPL-2.0 */
/* rnvmx's "bind" parameter and the backend registration it controls. */
#ifndef RNVMX_PARAMS_H
#define RNVMX_PARAMS_H

struct nested_vmx_backend;

/* Registers @backend with kvm-intel if bind=Y; remembered for later writes. */
int rnvmx_backend_publish(const struct nested_vmx_backend *backend);
/* Unregisters @backend if registered; parameter writes no longer touch it. */
void rnvmx_backend_retract(const struct nested_vmx_backend *backend);

#endif
