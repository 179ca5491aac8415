// SPDX-License-Identifier: GPL-2.0

//! VMCS shadowing for L1, as KVM runs it: while L1 runs, the CPU serves its
//! VMREADs and VMWRITEs of the shadowed fields (`crate::shadow`) from a
//! shadow VMCS linked to vmcs01. What VMPTRLD and leaving a VMCS set in
//! vmcs01 (`set_current_vmptr()`, `vmx_disable_shadow_vmcs()`), and which
//! fields go which way between the shadow VMCS and vmcs12
//! (`copy_shadow_to_vmcs12()`, `copy_vmcs12_to_shadow()`, the shadow update
//! of `handle_vmwrite()`), and where L1's own shadow VMCS for L2 is. The
//! glue implements `ShadowVmcsVcpu`: the shadow VMCS's allocation, making
//! it current, VMREAD/VMWRITE.

use crate::shadow::fields::ShadowFields;
use crate::vmcs::controls::{Secondary, Vmcs12Controls};
use crate::vmcs::encoding::Encoding;
use crate::vmcs::layout::Vmcs12;
use crate::vmcs::table::encodings as enc;
use crate::vmcs::x86::INVALID_GPA;

/// VMREAD and VMWRITE of the current VMCS, apart from the vCPU (so that a
/// copy holds vmcs12 and the VMCS at once).
pub trait VmcsIo {
    /// VMREAD.
    fn vmread(&mut self, field: Encoding) -> u64;
    /// VMWRITE.
    fn vmwrite(&mut self, field: Encoding, value: u64);
}

/// The vCPU whose vmcs01 has (or has not) a shadow VMCS. Every method
/// applies or reports one thing.
pub trait ShadowVmcsVcpu {
    /// The shadow VMCS's accessor while it is current.
    type Io: VmcsIo;
    /// The physical address of vmcs01's shadow VMCS (`vmcs01.shadow_vmcs`),
    /// `None` if VMXON allocated none (no VMCS shadowing).
    fn shadow_vmcs(&mut self) -> Option<u64>;
    /// VMXON allocated vmcs01 a shadow VMCS (`shadow_vmcs()` is `Some`),
    /// without working out its address.
    fn has_shadow_vmcs(&mut self) -> bool {
        self.shadow_vmcs().is_some()
    }
    /// The shadowed fields on this CPU (`None`: outside the module's
    /// lifetime).
    fn shadow_fields(&mut self) -> Option<&'static ShadowFields>;
    /// The current VMCS's secondary controls, as KVM's shadow of them has
    /// them.
    fn secondary_controls(&mut self) -> Secondary;
    /// `secondary_exec_controls_set()` on the current VMCS.
    fn set_secondary_controls(&mut self, controls: Secondary);
    /// VMREAD of the current VMCS.
    fn vmread(&mut self, field: Encoding) -> u64;
    /// VMWRITE of the current VMCS.
    fn vmwrite(&mut self, field: Encoding, value: u64);
    /// There is a current VMCS (`current_vmptr` is not INVALID_GPA): the
    /// shadow VMCS is linked to vmcs01.
    fn has_current_vmptr(&mut self) -> bool;
    /// Sets or clears `nested.need_vmcs12_to_shadow_sync`: kvm-intel fills
    /// the shadow VMCS (`from_vmcs12`) before L1 runs again.
    fn set_need_vmcs12_to_shadow_sync(&mut self, need: bool);
    /// Runs `f` with vmcs01's shadow VMCS as the current VMCS, then
    /// VMCLEARs it and makes the vCPU's own VMCS current again (KVM's
    /// `vmcs_load(shadow_vmcs)` ... `vmcs_clear()`, `vmcs_load()`), with
    /// preemption off meanwhile. Called only when `shadow_vmcs()` has one.
    fn with_shadow_loaded<F: FnOnce(&mut Self)>(&mut self, f: F);
    /// `with_shadow_loaded`, `f` given the shadow VMCS's accessor and the
    /// cached vmcs12 (not run without one).
    fn with_shadow_vmcs12<F: FnOnce(&mut Self::Io, &mut Vmcs12)>(&mut self, f: F);
}

/// The shadowing part of KVM's `set_current_vmptr()`, at VMPTRLD of a new
/// current VMCS (and when a restored state names one): the shadow VMCS is
/// linked to vmcs01 and filled before L1 runs again.
pub fn enable<V: ShadowVmcsVcpu>(k: &mut V) {
    let Some(pa) = k.shadow_vmcs() else {
        return;
    };
    let sec = k.secondary_controls() | Secondary::SHADOW_VMCS;
    k.set_secondary_controls(sec);
    k.vmwrite(enc::VMCS_LINK_POINTER, pa);
    k.set_need_vmcs12_to_shadow_sync(true);
}

/// KVM's `vmx_disable_shadow_vmcs()`: vmcs01 no longer shadows (the
/// current VMCS goes back to L1, or VMX operation ends).
pub fn disable<V: ShadowVmcsVcpu>(k: &mut V) {
    if !k.has_shadow_vmcs() {
        return;
    }
    let sec = k.secondary_controls().difference(Secondary::SHADOW_VMCS);
    k.set_secondary_controls(sec);
    k.vmwrite(enc::VMCS_LINK_POINTER, INVALID_GPA);
    k.set_need_vmcs12_to_shadow_sync(false);
}

/// KVM's `copy_shadow_to_vmcs12()`: what L1 wrote without exits, the
/// read-write fields, from the shadow VMCS into vmcs12 (the read-only ones
/// L1 cannot have changed).
pub fn to_vmcs12<V: ShadowVmcsVcpu>(k: &mut V) {
    let Some(fields) = k.shadow_fields() else {
        return;
    };
    if !k.has_shadow_vmcs() {
        return;
    }
    let beyond_kvm = k.has_current_vmptr();
    k.with_shadow_vmcs12(|io, v| fields.to_vmcs12(v, beyond_kvm, |e| io.vmread(e)));
}

/// KVM's `nested_sync_vmcs12_to_shadow()` (`copy_vmcs12_to_shadow()`):
/// every shadowed field, the read-write ones and then the read-only ones,
/// from vmcs12 into the shadow VMCS; the sync is then done.
pub fn from_vmcs12<V: ShadowVmcsVcpu>(k: &mut V) {
    let Some(fields) = k.shadow_fields() else {
        return;
    };
    if k.has_shadow_vmcs() {
        k.with_shadow_vmcs12(|io, v| fields.from_vmcs12(v, |e, x| io.vmwrite(e, x)));
    }
    k.set_need_vmcs12_to_shadow_sync(false);
}

/// `handle_vmwrite()` of a field L1 reads from the shadow VMCS (a
/// read-only one, written by L1 with "VMWRITE to any supported field"):
/// the shadow copy gets the value too.
pub fn write_ro<V: ShadowVmcsVcpu>(k: &mut V, field: Encoding, value: u64) {
    if !k.has_shadow_vmcs() {
        return;
    }
    k.with_shadow_loaded(|k| k.vmwrite(field, value));
}

/// L1's own shadow VMCS for L2: vmcs12's VMCS link pointer when vmcs12
/// enables "VMCS shadowing" (activated secondary controls) with one. Its
/// cache is read from there at each VMLAUNCH/VMRESUME and written back at
/// each nested VM exit (KVM's `nested_cache_shadow_vmcs12()`,
/// `nested_flush_cached_shadow_vmcs12()`); `None`: neither happens.
pub fn vmcs12_shadow_gpa(v: &Vmcs12) -> Option<u64> {
    let on = Vmcs12Controls::of(v).sec.contains(Secondary::SHADOW_VMCS);
    (on && v.vmcs_link_pointer != INVALID_GPA).then_some(v.vmcs_link_pointer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nested::model_shadow::{ShadowCall as C, ShadowModel, Vmcs::*};
    use crate::shadow::bitmap::ShadowCaps;

    const PA: u64 = 0x7000;

    fn rw() -> std::vec::Vec<Encoding> {
        ShadowFields::new(&ShadowCaps::ALL)
            .read_write()
            .iter()
            .map(|s| s.encoding)
            .collect()
    }

    fn ro() -> std::vec::Vec<Encoding> {
        ShadowFields::new(&ShadowCaps::ALL)
            .read_only()
            .iter()
            .map(|s| s.encoding)
            .collect()
    }

    #[test]
    fn enable_links_the_shadow_vmcs_and_asks_for_a_sync() {
        let mut m = ShadowModel::with_shadow(PA);
        m.secondary = Secondary::ENABLE_EPT;
        enable(&mut m);
        assert_eq!(
            m.log,
            [
                C::SetSecondary(Secondary::ENABLE_EPT | Secondary::SHADOW_VMCS),
                C::Write(Own, enc::VMCS_LINK_POINTER, PA),
                C::NeedSync(true),
            ]
        );
        assert!(m.need_sync);
    }

    #[test]
    fn disable_unlinks_and_drops_the_sync() {
        let mut m = ShadowModel::with_shadow(PA);
        m.secondary = Secondary::ENABLE_EPT | Secondary::SHADOW_VMCS;
        m.need_sync = true;
        disable(&mut m);
        assert_eq!(
            m.log,
            [
                C::SetSecondary(Secondary::ENABLE_EPT),
                C::Write(Own, enc::VMCS_LINK_POINTER, INVALID_GPA),
                C::NeedSync(false),
            ]
        );
        assert!(!m.need_sync);
    }

    #[test]
    fn without_a_shadow_vmcs_nothing_is_touched() {
        let mut m = ShadowModel::without_shadow();
        m.need_sync = true;
        enable(&mut m);
        disable(&mut m);
        to_vmcs12(&mut m);
        write_ro(&mut m, enc::VM_EXIT_REASON, 1);
        assert!(m.log.is_empty());
        assert!(m.need_sync);
        // The sync is done all the same: there is nothing to fill.
        from_vmcs12(&mut m);
        assert_eq!(m.log, [C::NeedSync(false)]);
    }

    #[test]
    fn to_vmcs12_copies_the_read_write_fields_with_the_shadow_loaded() {
        let mut m = ShadowModel::with_shadow(PA);
        for (i, e) in rw().into_iter().chain(ro()).enumerate() {
            m.shadow.insert(e, 0x100 + i as u64);
        }
        m.own.insert(enc::GUEST_RIP, 0xdead);
        m.need_sync = true;
        to_vmcs12(&mut m);
        assert_eq!(m.log.first(), Some(&C::Load));
        assert_eq!(m.log.last(), Some(&C::Unload));
        // Every VMREAD hits the shadow VMCS.
        let reads: std::vec::Vec<_> = m
            .log
            .iter()
            .filter_map(|c| match c {
                C::Read(v, e) => Some((*v, *e)),
                _ => None,
            })
            .collect();
        assert_eq!(
            reads,
            rw().into_iter()
                .map(|e| (Shadow, e))
                .collect::<std::vec::Vec<_>>()
        );
        for (i, e) in rw().into_iter().enumerate() {
            assert_eq!(m.vmcs12.get(&e), Some(&(0x100 + i as u64)), "{e:?}");
        }
        // Read-only fields are L0's to write: not copied back.
        for e in ro() {
            assert_eq!(m.vmcs12.get(&e), None, "{e:?}");
        }
        assert!(m.need_sync, "to_vmcs12 leaves the sync flag alone");
    }

    #[test]
    fn host_rsp_and_rip_come_back_only_from_a_linked_shadow_vmcs() {
        // No current VMCS (a restored eVMCS L1): nested.c copies its list
        // from the shadow VMCS all the same, vmcs12 keeps HOST_RSP/RIP.
        let mut m = ShadowModel::with_shadow(PA);
        m.current_vmptr = false;
        for (i, e) in rw().into_iter().enumerate() {
            m.shadow.insert(e, 0x100 + i as u64);
        }
        m.vmcs12.insert(enc::HOST_RSP, 0x8000);
        m.vmcs12.insert(enc::HOST_RIP, 0x9000);
        to_vmcs12(&mut m);
        assert_eq!(m.vmcs12.get(&enc::HOST_RSP), Some(&0x8000));
        assert_eq!(m.vmcs12.get(&enc::HOST_RIP), Some(&0x9000));
        assert_eq!(m.vmcs12.get(&enc::GUEST_RIP), m.shadow.get(&enc::GUEST_RIP));
        // With one they are L1's to write, as every read-write field.
        m.current_vmptr = true;
        to_vmcs12(&mut m);
        assert_eq!(m.vmcs12.get(&enc::HOST_RSP), m.shadow.get(&enc::HOST_RSP));
        assert_eq!(m.vmcs12.get(&enc::HOST_RIP), m.shadow.get(&enc::HOST_RIP));
    }

    #[test]
    fn from_vmcs12_fills_every_shadowed_field_then_clears_the_sync() {
        let mut m = ShadowModel::with_shadow(PA);
        let all: std::vec::Vec<_> = rw().into_iter().chain(ro()).collect();
        for (i, e) in all.iter().enumerate() {
            m.vmcs12.insert(*e, 0x200 + i as u64);
        }
        m.vmcs12.insert(enc::EPT_POINTER, 0x5000);
        m.need_sync = true;
        from_vmcs12(&mut m);
        let writes: std::vec::Vec<_> = m
            .log
            .iter()
            .filter_map(|c| match c {
                C::Write(v, e, x) => Some((*v, *e, *x)),
                _ => None,
            })
            .collect();
        // Read-write fields first, then read-only, as KVM; into the shadow.
        let want: std::vec::Vec<_> = all
            .iter()
            .enumerate()
            .map(|(i, e)| (Shadow, *e, 0x200 + i as u64))
            .collect();
        assert_eq!(writes, want);
        assert_eq!(m.shadow.get(&enc::EPT_POINTER), None, "not shadowed");
        assert!(m.own.is_empty(), "vmcs01 untouched");
        // The flag is cleared after the bracket is closed.
        let n = m.log.len();
        assert_eq!(&m.log[n - 2..], [C::Unload, C::NeedSync(false)]);
        assert_eq!(m.log.first(), Some(&C::Load));
        assert!(!m.need_sync);
    }

    #[test]
    fn fields_the_cpu_lacks_are_not_copied() {
        let mut m = ShadowModel::with_shadow(PA);
        m.fields = ShadowModel::fields_of(ShadowCaps::default());
        m.vmcs12.insert(enc::GUEST_PML_INDEX, 7);
        from_vmcs12(&mut m);
        assert_eq!(m.shadow.get(&enc::GUEST_PML_INDEX), None);
        m.shadow.insert(enc::GUEST_INTR_STATUS, 9);
        to_vmcs12(&mut m);
        assert_eq!(m.vmcs12.get(&enc::GUEST_INTR_STATUS), None);
    }

    #[test]
    fn without_the_lists_nothing_happens() {
        let mut m = ShadowModel::with_shadow(PA);
        m.fields = None;
        m.need_sync = true;
        to_vmcs12(&mut m);
        from_vmcs12(&mut m);
        assert!(m.log.is_empty());
        assert!(m.need_sync);
    }

    #[test]
    fn l1s_shadow_vmcs_needs_the_control_and_a_link_pointer() {
        use crate::vmcs::controls::CpuBased;
        let mut v = Vmcs12::zeroed();
        v.vmcs_link_pointer = 0x9000;
        v.secondary_vm_exec_control = Secondary::SHADOW_VMCS.bits();
        assert_eq!(vmcs12_shadow_gpa(&v), None, "secondary controls off");
        v.cpu_based_vm_exec_control = CpuBased::ACTIVATE_SECONDARY_CONTROLS.bits();
        assert_eq!(vmcs12_shadow_gpa(&v), Some(0x9000));
        v.vmcs_link_pointer = INVALID_GPA;
        assert_eq!(vmcs12_shadow_gpa(&v), None, "no link pointer");
        v.vmcs_link_pointer = 0x9000;
        v.secondary_vm_exec_control = Secondary::ENABLE_EPT.bits();
        assert_eq!(vmcs12_shadow_gpa(&v), None, "no VMCS shadowing");
    }

    #[test]
    fn write_ro_writes_the_shadow_copy() {
        let mut m = ShadowModel::with_shadow(PA);
        write_ro(&mut m, enc::EXIT_QUALIFICATION, 0x42);
        assert_eq!(
            m.log,
            [
                C::Load,
                C::Write(Shadow, enc::EXIT_QUALIFICATION, 0x42),
                C::Unload
            ]
        );
        assert!(m.own.is_empty());
    }
}
