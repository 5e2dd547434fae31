//! `--output FILE`: hwspec writes only regular files.
//!
//! Run as root (a node-labelling timer, a buildd's setup), a careless or hostile path must not
//! damage the system: replacing `/dev/null` with a regular file breaks every program that
//! writes there, and following an attacker's symlink in `/tmp` would overwrite whatever it
//! points at. So the path is checked first and the output is then written atomically (a
//! temporary file in the same directory, renamed into place).

use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hwspec_core::text::printable_path;

/// The mode of a file hwspec creates; an existing file keeps its own.
const NEW_FILE_MODE: u32 = 0o644;

/// Writes `bytes` to `path` atomically when `path` is a regular file, is absent, or is a
/// symlink to a regular file (which is then replaced, the symlink kept). Anything else — a
/// device node, a FIFO, a socket, a directory, a dangling symlink, or a symlink planted by
/// another user in a sticky world-writable directory such as `/tmp` — is refused, and
/// nothing is written.
pub fn write_regular(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (target, mode) = target_of(path).map_err(|why| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "refusing to write {}: {why}; --output writes only regular files",
                printable_path(path)
            ),
        )
    })?;
    hwspec_core::files::write_atomically(&target, bytes, mode).map_err(|err| {
        io::Error::new(
            err.kind(),
            format!("cannot write {}: {err}", printable_path(&target)),
        )
    })
}

/// The file to replace and the mode to give it, or why `path` must not be written.
fn target_of(path: &Path) -> Result<(PathBuf, u32), String> {
    let link = match fs::symlink_metadata(path) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Ok((path.to_owned(), NEW_FILE_MODE))
        }
        Err(err) => return Err(err.to_string()),
        Ok(meta) => meta,
    };
    if !link.file_type().is_symlink() {
        return regular(&link).map(|mode| (path.to_owned(), mode));
    }
    let planted = planted_symlink(path, &link);
    if let Some(why) = planted {
        return Err(why);
    }
    let resolved = match fs::canonicalize(path) {
        Ok(resolved) => resolved,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Err("it is a symlink to nothing".to_owned())
        }
        Err(err) => return Err(err.to_string()),
    };
    let meta = fs::metadata(&resolved).map_err(|err| err.to_string())?;
    regular(&meta)
        .map(|mode| (resolved.clone(), mode))
        .map_err(|why| {
            format!(
                "it is a symlink to {}, and {why}",
                printable_path(&resolved)
            )
        })
}

/// The permission bits of a regular file, or what else it is.
fn regular(meta: &Metadata) -> Result<u32, String> {
    let kind = meta.file_type();
    if kind.is_file() {
        return Ok(meta.permissions().mode() & 0o777);
    }
    let what = if kind.is_dir() {
        "a directory"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a special file"
    };
    Err(format!("it is {what}, not a regular file"))
}

/// The kernel's `fs.protected_symlinks` rule, which protects opening a path but not renaming
/// onto the file a symlink resolves to: in a sticky world-writable directory, a symlink is
/// followed only when it belongs to the caller or to the directory's owner.
fn planted_symlink(path: &Path, link: &Metadata) -> Option<String> {
    let parent = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let dir = fs::metadata(parent).ok()?;
    let sticky_and_world_writable = dir.mode() & 0o1002 == 0o1002;
    let owner = link.uid();
    (sticky_and_world_writable
        && owner != hwspec_core::sys::effective_uid()
        && owner != dir.uid())
    .then(|| {
        format!(
            "it is a symlink owned by uid {owner} in the sticky, world-writable {}, which is not followed",
            printable_path(parent)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hwspec-output-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn regular_and_absent_files_are_written_and_keep_their_mode() {
        let dir = scratch("regular");
        let new = dir.join("new.txt");
        write_regular(&new, b"one\n").unwrap();
        assert_eq!(fs::read(&new).unwrap(), b"one\n");
        fs::set_permissions(&new, fs::Permissions::from_mode(0o600)).unwrap();
        write_regular(&new, b"two\n").unwrap();
        assert_eq!(fs::read(&new).unwrap(), b"two\n");
        assert_eq!(
            fs::metadata(&new).unwrap().permissions().mode() & 0o777,
            0o600
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlink_to_a_regular_file_replaces_the_file_and_keeps_the_link() {
        let dir = scratch("symlink");
        let real = dir.join("real");
        fs::write(&real, "old").unwrap();
        let link = dir.join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_regular(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&real).unwrap(), b"new");

        let dangling = dir.join("dangling");
        std::os::unix::fs::symlink(dir.join("nowhere"), &dangling).unwrap();
        let err = write_regular(&dangling, b"x").unwrap_err().to_string();
        assert!(err.contains("a symlink to nothing"), "{err}");
        assert!(!dir.join("nowhere").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlink_another_user_planted_in_a_sticky_directory_is_not_followed() {
        if hwspec_core::sys::effective_uid() != 0 {
            eprintln!("skipped: planting a symlink owned by another user needs root");
            return;
        }
        let dir = scratch("sticky");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o1777)).unwrap();
        let victim = dir.join("victim");
        fs::write(&victim, "precious").unwrap();
        let link = dir.join("report.json");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).unwrap();
        let err = write_regular(&link, b"x").unwrap_err().to_string();
        assert!(err.contains("owned by uid 65534"), "{err}");
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        // The same link made by the caller is followed.
        std::os::unix::fs::lchown(&link, Some(0), Some(0)).unwrap();
        write_regular(&link, b"x").unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"x");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn devices_fifos_directories_and_links_to_them_are_refused() {
        let dir = scratch("special");
        let to_null = dir.join("null");
        std::os::unix::fs::symlink("/dev/null", &to_null).unwrap();
        for (path, what) in [
            (Path::new("/dev/null"), "a character device"),
            (to_null.as_path(), "a character device"),
            (dir.as_path(), "a directory"),
        ] {
            let err = write_regular(path, b"x").unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            let err = err.to_string();
            assert!(err.contains(what), "{err}");
            assert!(err.contains("writes only regular files"), "{err}");
        }
        assert!(fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device());
        assert!(fs::symlink_metadata(&to_null)
            .unwrap()
            .file_type()
            .is_symlink());
        fs::remove_dir_all(&dir).unwrap();
    }
}
