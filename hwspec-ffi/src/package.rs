//! `hwspec_package_requirement`: the `X-Requires-Hwspec` field of Debian packaging files.

use std::ffi::{c_char, c_int};
use std::path::Path;

use hwspec_core::control::{self, Kind};

use crate::error::{boundary, hwspec_result, Error};
use crate::ptr::{owned_c_string, try_opt_str, try_str, Out};

/// Which kind of file `hwspec_package_requirement` reads.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum hwspec_package_file {
    /// A source tree's `debian/control`.
    HWSPEC_DEBIAN_CONTROL = 0,
    /// A source package's `.dsc`.
    HWSPEC_DSC = 1,
    /// A binary package (`.deb`).
    HWSPEC_DEB = 2,
}

/// How a `hwspec_package_file` arrives from C: as its integer, since a value outside the enum
/// must be refused rather than be undefined behaviour in Rust. The header names it
/// `hwspec_package_file` (see cbindgen.toml).
pub type hwspec_package_file_arg = c_int;

impl hwspec_package_file {
    fn from_arg(value: hwspec_package_file_arg) -> Result<Kind, Error> {
        use hwspec_package_file::*;
        match value {
            v if v == HWSPEC_DEBIAN_CONTROL as c_int => Ok(Kind::Control),
            v if v == HWSPEC_DSC as c_int => Ok(Kind::Dsc),
            v if v == HWSPEC_DEB as c_int => Ok(Kind::Deb),
            other => Err(Error::invalid(format!(
                "unknown hwspec_package_file {other}"
            ))),
        }
    }
}

/// The requirements of every entry, ANDed: `", "` between non-empty ones, each without the
/// trailing comma `wrap-and-sort -t` leaves so that the joined text still parses.
fn join_requirements<'a>(values: impl Iterator<Item = Option<&'a str>>) -> String {
    values
        .flatten()
        .map(|v| v.trim().trim_end_matches(',').trim_end())
        .filter(|v| !v.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads `X-Requires-Hwspec` from a package file (`XS-`/`XB-` spellings included; in a `.dsc`
/// and a `.deb`, `Requires-Hwspec`). For a `debian/control` the requirements of all stanzas,
/// or with `package` of the source stanza and that binary's, are joined with `", "` (all
/// must hold); a stanza without the field adds nothing; `""` means cpu. `package` must be
/// NULL for a `.dsc`; for a `.deb` it must name the package if given. The text is returned as
/// written (not checked): pass it to `hwspec_check`. Free it with `hwspec_string_free`.
/// A file that cannot be read or is malformed is `HWSPEC_ERR_CONTROL`.
///
/// # Safety
///
/// `path` and `package` are each NULL or a NUL-terminated string; `out` is NULL or valid for
/// writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn hwspec_package_requirement(
    path: *const c_char,
    kind: hwspec_package_file_arg,
    package: *const c_char,
    out: *mut *mut c_char,
) -> hwspec_result {
    boundary("hwspec_package_requirement", || {
        // SAFETY: forwarded from this function's contract.
        let (path, package, out) = unsafe {
            (
                try_str(path, "path")?,
                try_opt_str(package, "package")?,
                Out::new(out, "out")?,
            )
        };
        let kind = hwspec_package_file::from_arg(kind)?;
        let fields = control::from_path(Path::new(path), kind, package)
            .map_err(|e| Error::new(hwspec_result::HWSPEC_ERR_CONTROL, e.to_string()))?;
        out.write(owned_c_string(join_requirements(
            fields.iter().map(|f| f.value.as_deref()),
        )));
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_are_anded_and_absent_ones_add_nothing() {
        let values = [Some("opencl,"), None, Some("  "), Some("vulkan | cuda")];
        assert_eq!(
            join_requirements(values.iter().copied()),
            "opencl, vulkan | cuda"
        );
        assert_eq!(join_requirements([None, Some("")].into_iter()), "");
    }
}
