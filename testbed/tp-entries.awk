# L2 entries in a tracefs trace of KVM's nested events (both backends emit
# them): an entry counts if it reached L2, i.e. a kvm_nested_vmenter followed,
# on the same thread, by an exit from L2 (kvm_nested_vmexit or
# kvm_nested_vmexit_inject) before that thread's next kvm_nested_vmenter or
# a kvm_nested_vmenter_failed. With -v comm=PREFIX only threads whose name
# starts with PREFIX. Prints "tp_l2=N tp_vmenter=M" (M: all vmenter events).
/^#/ { next }
comm != "" && index($1, comm) != 1 { next }
/ kvm_nested_vmenter: / { p[$1] = 1; n++; next }
/ kvm_nested_vmexit(_inject)?: / { if (p[$1]) ok++; p[$1] = 0; next }
/ kvm_nested_vmenter_failed: / { p[$1] = 0 }
END { printf "tp_l2=%d tp_vmenter=%d", ok, n }
