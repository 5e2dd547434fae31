//! Recognising what `cargo run` adds to the environment, so that the README's first command
//! (`cargo run --release -p hwspec-cli -- probe`, as root) answers without a note about a
//! variable the user never set. Only the table's note changes: the variable is still withheld
//! from the workers and still listed in the report's `dropped_environment`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Whether `name=value` is exactly what cargo set when it started this program: cargo sets
/// `CARGO` to its own executable and prepends to `LD_LIBRARY_PATH` the directory of the
/// program it runs, that directory's `deps`, and its toolchain's `lib` directories. A value
/// with any other entry (the user's own, appended by cargo) is not cargo's alone.
pub fn set_by_cargo(name: &str, value: &OsStr, cargo: Option<&OsStr>, exe: &Path) -> bool {
    if name != "LD_LIBRARY_PATH" {
        return false;
    }
    let Some(toolchain) = cargo
        .map(Path::new)
        .and_then(Path::parent)
        .and_then(Path::parent)
    else {
        return false;
    };
    let Some(exe_dir) = exe.parent() else {
        return false;
    };
    let own: [PathBuf; 3] = [
        exe_dir.to_owned(),
        exe_dir.join("deps"),
        toolchain.join("lib"),
    ];
    let rustlib = toolchain.join("lib").join("rustlib");
    let mut entries = std::env::split_paths(value).peekable();
    entries.peek().is_some()
        && entries.all(|entry| {
            own.contains(&entry)
                || entry
                    .strip_prefix(&rustlib)
                    .is_ok_and(|rest| rest.components().count() == 2 && rest.ends_with("lib"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARGO: &str = "/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin/cargo";
    const EXE: &str = "/src/hwspec/target/release/hwspec";
    /// What cargo 1.95 set for `cargo run --release`.
    const BY_CARGO: &str = "/src/hwspec/target/release:/src/hwspec/target/release/deps:\
        /root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/lib/rustlib/x86_64-unknown-linux-gnu/lib:\
        /root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/lib";

    fn by_cargo(name: &str, value: &str, cargo: Option<&str>) -> bool {
        set_by_cargo(
            name,
            OsStr::new(value),
            cargo.map(OsStr::new),
            Path::new(EXE),
        )
    }

    #[test]
    fn cargos_own_library_path_is_recognised() {
        assert!(by_cargo("LD_LIBRARY_PATH", BY_CARGO, Some(CARGO)));
        assert!(by_cargo(
            "LD_LIBRARY_PATH",
            "/usr/lib/rustlib/x86_64-unknown-linux-gnu/lib:/usr/lib:/src/hwspec/target/release",
            Some("/usr/bin/cargo")
        ));
    }

    #[test]
    fn anything_else_is_the_users() {
        let with_user = format!("{BY_CARGO}:/opt/vendor/lib");
        assert!(!by_cargo("LD_LIBRARY_PATH", &with_user, Some(CARGO)));
        assert!(
            !by_cargo("LD_LIBRARY_PATH", BY_CARGO, None),
            "not run by cargo"
        );
        assert!(!by_cargo("LD_LIBRARY_PATH", "", Some(CARGO)));
        assert!(!by_cargo(
            "LD_PRELOAD",
            "/src/hwspec/target/release",
            Some(CARGO)
        ));
        assert!(!by_cargo(
            "LD_LIBRARY_PATH",
            "/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/lib/rustlib/evil/x/lib",
            Some(CARGO)
        ));
    }
}
