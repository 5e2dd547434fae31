//! Device nodes: which render nodes exist, and whether this process may open one.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where DRM render nodes live.
pub(crate) const DRI_DIR: &str = "/dev/dri";

/// What could be done with a device node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NodeAccess {
    Missing,
    Openable,
    /// It exists, but opening it for reading and writing was refused; the group owning it.
    Denied {
        group: String,
    },
    /// Opening it failed otherwise (e.g. ENXIO when the driver is half loaded).
    Failed(String),
}

impl NodeAccess {
    /// How a report's evidence describes it.
    pub(crate) fn describe(&self) -> String {
        match self {
            NodeAccess::Missing => "missing".into(),
            NodeAccess::Openable => "present, openable".into(),
            NodeAccess::Denied { group } => format!("present, not openable (group {group})"),
            NodeAccess::Failed(error) => format!("present, open failed: {error}"),
        }
    }
}

/// Opens `path` for reading and writing, as a runtime does, and closes it again. `etc_group`
/// is `/etc/group`'s text ([`crate::sys::etc_group`]), to name the group of a refused node.
pub(crate) fn node_access(path: &Path, etc_group: &str) -> NodeAccess {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return NodeAccess::Missing,
        Err(error) => return NodeAccess::Failed(error.to_string()),
    };
    match OpenOptions::new().read(true).write(true).open(path) {
        Ok(_) => NodeAccess::Openable,
        Err(error) if error.kind() == io::ErrorKind::PermissionDenied => NodeAccess::Denied {
            group: crate::sys::group_name(etc_group, meta.gid()),
        },
        Err(error) => NodeAccess::Failed(error.to_string()),
    }
}

/// The group owning `node`, by name, for a message telling the user which group to join.
pub(crate) fn node_group(node: &Path, etc_group: &str) -> String {
    fs::metadata(node)
        .map(|meta| crate::sys::group_name(etc_group, meta.gid()))
        .unwrap_or_else(|_| "unknown".into())
}

/// The message for a node this user may not open: it names the group to join.
pub(crate) fn cannot_open(node: &Path, group: &str) -> String {
    format!(
        "{} exists but this user cannot open it; it belongs to group {group}, which the user \
         must be in",
        node.display()
    )
}

/// Every `renderD*` node in `dri_dir` (normally [`DRI_DIR`]), sorted by path.
pub(crate) fn render_nodes(dri_dir: &Path) -> Vec<PathBuf> {
    let mut nodes: Vec<PathBuf> = fs::read_dir(dri_dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| {
                    path.file_name()
                        .is_some_and(|name| name.to_string_lossy().starts_with("renderD"))
                })
                .collect()
        })
        .unwrap_or_default();
    nodes.sort();
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_nodes_are_listed_sorted_and_nothing_else() {
        let tmp = crate::testing::TempDir::new("render-nodes");
        for name in ["renderD129", "card0", "renderD128", "by-path"] {
            fs::write(tmp.path().join(name), "").unwrap();
        }
        assert_eq!(
            render_nodes(tmp.path()),
            [tmp.path().join("renderD128"), tmp.path().join("renderD129")]
        );
        assert!(render_nodes(&tmp.path().join("missing")).is_empty());
    }

    #[test]
    fn access_tells_missing_from_openable() {
        let tmp = crate::testing::TempDir::new("node-access");
        let node = tmp.path().join("renderD128");
        assert_eq!(node_access(&node, ""), NodeAccess::Missing);
        fs::write(&node, "").unwrap();
        assert_eq!(node_access(&node, ""), NodeAccess::Openable);
        assert_eq!(
            cannot_open(&node, "render"),
            format!(
                "{} exists but this user cannot open it; it belongs to group render, which \
                 the user must be in",
                node.display()
            )
        );
    }
}
