# L2 entries in a tracefs trace of KVM's nested events (both backends emit
# them): a kvm_nested_vmenter counts once the same thread shows it reached
# L2, i.e. its next nested event is an exit from L2 (kvm_nested_vmexit or
# kvm_nested_vmexit_inject) or another kvm_nested_vmenter (a forced exit,
# e.g. into SMM, emits no event before the entry that resumes L2). It does
# not count if a kvm_nested_vmenter_failed follows (a failed VM-entry
# check), nor if nothing follows (an entry that ended in a KVM internal
# error, e.g. an unbacked APIC-access page, as nested.c it emits nothing).
# Not told apart: an entry that fails loading its MSR list (no event in
# nested.c either) and is followed by another entry, which counts. So
# rnvmx's proof is its count of kvm_nested_vmenter events (ab.py).
# With -v comm=PREFIX only threads whose name starts with PREFIX.
# Prints "tp_l2=N tp_vmenter=M" (M: all vmenter events).
/^#/ { next }
comm != "" && index($1, comm) != 1 { next }
/ kvm_nested_vmenter: / { if (p[$1]) ok++; p[$1] = 1; n++; next }
/ kvm_nested_vmenter_failed: / { p[$1] = 0; next }
/ kvm_nested_vmexit(_inject)?: / { if (p[$1]) ok++; p[$1] = 0; next }
END { printf "tp_l2=%d tp_vmenter=%d", ok, n }
