//! Facts about the machine that backends judge by, in one place: the PCI devices the kernel
//! lists and their device nodes, whether a node may be opened, and vendors' names for PCI ids.
//! Backends ask here instead of each reading `/dev` and sysfs its own way.

mod nodes;
mod pci;

pub(crate) use crate::sys::may_read_write;
pub(crate) use nodes::{cannot_open, node_access, node_group, render_nodes, NodeAccess, DRI_DIR};
pub use pci::normalise_bus_id;
pub(crate) use pci::pci_display_devices;
pub(crate) use pci::{nvidia_device_node, render_node, HostRoots};

/// The vendor's name for a PCI vendor id, or a Khronos-registered vendor id (Vulkan's
/// `vendorID` for drivers with no PCI id, such as Mesa's software ones), where hwspec knows it.
pub(crate) fn vendor_name(vendor_id: u32) -> Option<&'static str> {
    Some(match vendor_id {
        0x10DE => "NVIDIA",
        0x1002 => "AMD",
        0x8086 => "Intel",
        0x10005 => "Mesa",
        0x13B5 => "ARM",
        0x5143 => "Qualcomm",
        0x1010 => "Imagination",
        0x106B => "Apple",
        0x1AE0 => "Google",
        _ => return None,
    })
}

/// The vendor's name, or its id in hex (`0x1234`) when hwspec does not know it.
pub(crate) fn vendor_label(vendor_id: u32) -> String {
    vendor_name(vendor_id).map_or_else(|| format!("{vendor_id:#06x}"), str::to_owned)
}

/// [`vendor_name`] of an id as sysfs writes it (`0x8086`).
pub(crate) fn vendor_name_of_sysfs_id(text: &str) -> Option<&'static str> {
    let digits = text.trim().strip_prefix("0x")?;
    vendor_name(u32::from_str_radix(digits, 16).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_ids_map_to_names() {
        assert_eq!(vendor_label(0x10de), "NVIDIA");
        assert_eq!(vendor_label(0x10005), "Mesa");
        assert_eq!(vendor_label(0x1AE0), "Google");
        assert_eq!(vendor_label(0x1234), "0x1234");
        assert_eq!(vendor_label(0x1), "0x0001");
        assert_eq!(vendor_label(0x10009), "0x10009");
        assert_eq!(vendor_name_of_sysfs_id("0x8086\n"), Some("Intel"));
        assert_eq!(vendor_name_of_sysfs_id("8086"), None);
        assert_eq!(vendor_name_of_sysfs_id("0xzz"), None);
    }
}
