//! AMD GPU architecture names as the consumers of hwspec's answers spell them: gfx targets,
//! the ISA version conda's `__amdgpu_arch` carries, LLVM's generic targets, the target lists
//! Debian's ROCm packages declare, and Debian's ROCm CI worker tags (`amd64+gfx1030`).

use std::fmt;

/// LLVM's generic processors and the real processors each one's code runs on, as the table
/// "AMDGPU Generic Processors" of LLVM's AMDGPU backend guide (`llvm/docs/AMDGPUUsage.rst`)
/// lists them. Code built for a generic target runs on every processor of its row and on no
/// other; the list grows with LLVM, and a generic name missing here is reported as unknown,
/// never guessed at.
pub const GENERIC_TARGETS: &[(&str, &[&str])] = &[
    (
        "gfx9-generic",
        &["gfx900", "gfx902", "gfx904", "gfx906", "gfx909", "gfx90c"],
    ),
    ("gfx9-4-generic", &["gfx940", "gfx941", "gfx942", "gfx950"]),
    (
        "gfx10-1-generic",
        &["gfx1010", "gfx1011", "gfx1012", "gfx1013"],
    ),
    (
        "gfx10-3-generic",
        &[
            "gfx1030", "gfx1031", "gfx1032", "gfx1033", "gfx1034", "gfx1035", "gfx1036",
        ],
    ),
    (
        "gfx11-generic",
        &[
            "gfx1100", "gfx1101", "gfx1102", "gfx1103", "gfx1150", "gfx1151", "gfx1152", "gfx1153",
        ],
    ),
    ("gfx12-generic", &["gfx1200", "gfx1201"]),
];

/// Whether `name` is a real gfx processor name: `gfx` and hex digits (`gfx90a`, `gfx1030`).
pub fn is_real_target(name: &str) -> bool {
    name.strip_prefix("gfx").is_some_and(|digits| {
        (3..=6).contains(&digits.len())
            && digits
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && digits.as_bytes()[0].is_ascii_digit()
    })
}

/// Whether `name` has the shape of an LLVM generic processor name (`gfx11-generic`,
/// `gfx10-3-generic`), known or not.
pub fn is_generic_name(name: &str) -> bool {
    name.strip_prefix("gfx")
        .and_then(|rest| rest.strip_suffix("-generic"))
        .is_some_and(|version| {
            !version.is_empty()
                && version
                    .split('-')
                    .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// The AMDGPU ISA version of a real target as conda's `__amdgpu_arch` spells it (conda/ceps
/// pull request 189): after `gfx`, all but the last two characters are the major version in
/// decimal, the last two are minor and stepping in hex; all three printed in decimal.
/// `gfx90a` → `9.0.10`, `gfx1030` → `10.3.0`, `gfx1151` → `11.5.1`.
pub fn isa_version(target: &str) -> Option<IsaVersion> {
    if !is_real_target(target) {
        return None;
    }
    let digits = &target[3..];
    let (major, rest) = digits.split_at(digits.len() - 2);
    if !major.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut hex = rest.chars().map(|c| c.to_digit(16));
    Some(IsaVersion {
        major: major.parse().ok()?,
        minor: hex.next()??,
        stepping: hex.next()??,
    })
}

/// An AMDGPU ISA version, ordered as numbers compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct IsaVersion {
    /// Major version (the family: 9, 10, 11, 12).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Stepping.
    pub stepping: u32,
}

impl fmt::Display for IsaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.stepping)
    }
}

/// One entry of a declared target list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetEntry {
    /// A real processor (`gfx1030`); target features such as `:xnack-` are dropped.
    Real(String),
    /// A generic processor hwspec knows, with the real processors it covers.
    Generic {
        /// Its name (`gfx11-generic`).
        name: String,
        /// The real processors its code runs on.
        covers: &'static [&'static str],
    },
    /// A generic processor name missing from [`GENERIC_TARGETS`]: which processors it covers
    /// cannot be told, so it covers none here.
    UnknownGeneric(String),
}

impl TargetEntry {
    /// The real processors this entry's code runs on.
    pub fn real_targets(&self) -> Vec<&str> {
        match self {
            TargetEntry::Real(name) => vec![name.as_str()],
            TargetEntry::Generic { covers, .. } => covers.to_vec(),
            TargetEntry::UnknownGeneric(_) => Vec::new(),
        }
    }
}

/// A token of a target list that is not a gfx processor name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadTarget {
    /// The token as written.
    pub token: String,
}

impl fmt::Display for BadTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not an AMD GPU target: expected a name such as gfx1030, gfx90a:xnack- or gfx11-generic",
            self.token
        )
    }
}

impl std::error::Error for BadTarget {}

/// Parses a list of AMD GPU targets as Debian's ROCm packages write them
/// (`X-ROCm-GPU-Architecture`, `X-ROCm-Built-For`): separated by whitespace, commas or
/// semicolons (rocm-target-arch's `--sep` and CMake's `AMDGPU_TARGETS` separator), each a real
/// processor with optional target features or a generic processor. An empty list is empty.
pub fn parse_target_list(text: &str) -> Result<Vec<TargetEntry>, BadTarget> {
    let mut entries = Vec::new();
    for token in text
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|t| !t.is_empty())
    {
        let name = token.split(':').next().unwrap_or_default();
        let features_ok = token.split(':').skip(1).all(|feature| {
            feature.len() > 1
                && (feature.ends_with('+') || feature.ends_with('-'))
                && feature[..feature.len() - 1]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
        let entry = if is_real_target(name) && features_ok {
            TargetEntry::Real(name.to_owned())
        } else if is_generic_name(token) {
            match GENERIC_TARGETS
                .iter()
                .find(|(generic, _)| *generic == token)
            {
                Some((generic, covers)) => TargetEntry::Generic {
                    name: (*generic).to_owned(),
                    covers,
                },
                None => TargetEntry::UnknownGeneric(token.to_owned()),
            }
        } else {
            return Err(BadTarget {
                token: token.to_owned(),
            });
        };
        if !entries.contains(&entry) {
            entries.push(entry);
        }
    }
    Ok(entries)
}

/// Debian's name for the architecture the kernel calls `machine` (`uname -m`): `x86_64` →
/// `amd64`, `aarch64` → `arm64`. `None` for a machine name without an unambiguous Debian
/// architecture.
pub fn debian_architecture(machine: &str) -> Option<&'static str> {
    Some(match machine {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "ppc64le" => "ppc64el",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "loongarch64" => "loong64",
        "i386" | "i486" | "i586" | "i686" => "i386",
        "armv7l" => "armhf",
        _ => return None,
    })
}

/// A Debian ROCm CI worker tag: the Debian architecture and the GPU architecture a worker
/// serves, `amd64+gfx1030`, one queue per GPU architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerTag {
    /// The Debian architecture (`amd64`).
    pub architecture: String,
    /// The real gfx processor (`gfx1030`).
    pub gpu: String,
}

impl WorkerTag {
    /// Parses `ARCH+gfxNNNN`.
    pub fn parse(text: &str) -> Result<WorkerTag, String> {
        let (architecture, gpu) = text.split_once('+').ok_or_else(|| {
            format!("`{text}` is not a worker tag: expected ARCH+GFX, such as amd64+gfx1030")
        })?;
        let arch_ok = !architecture.is_empty()
            && architecture
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !arch_ok {
            return Err(format!(
                "`{architecture}` in `{text}` is not a Debian architecture name such as amd64"
            ));
        }
        if !is_real_target(gpu) {
            let hint = if is_generic_name(gpu) {
                "; a worker serves one real GPU architecture, not a generic target"
            } else {
                ""
            };
            return Err(format!(
                "`{gpu}` in `{text}` is not a GPU architecture such as gfx1030{hint}"
            ));
        }
        Ok(WorkerTag {
            architecture: architecture.to_owned(),
            gpu: gpu.to_owned(),
        })
    }
}

impl fmt::Display for WorkerTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{}", self.architecture, self.gpu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isa_versions_follow_the_conda_rule() {
        for (target, version) in [
            ("gfx90a", "9.0.10"),
            ("gfx1030", "10.3.0"),
            ("gfx1151", "11.5.1"),
            ("gfx1201", "12.0.1"),
            ("gfx942", "9.4.2"),
            ("gfx90c", "9.0.12"),
        ] {
            assert_eq!(
                isa_version(target).unwrap().to_string(),
                version,
                "{target}"
            );
        }
        for bad in [
            "gfx",
            "gfx9",
            "gfx9-generic",
            "sm_80",
            "gfxa00",
            "gfx90A",
            "",
        ] {
            assert_eq!(isa_version(bad), None, "{bad}");
        }
        assert!(isa_version("gfx1100").unwrap() > isa_version("gfx90a").unwrap());
    }

    #[test]
    fn every_generic_target_covers_real_targets_only() {
        for (generic, covers) in GENERIC_TARGETS {
            assert!(is_generic_name(generic), "{generic}");
            assert!(!covers.is_empty(), "{generic}");
            for target in *covers {
                assert!(is_real_target(target), "{generic}: {target}");
            }
        }
    }

    #[test]
    fn target_lists_accept_debian_separators_features_and_generics() {
        let list =
            parse_target_list("gfx900 gfx90a:xnack-;gfx1030,\n gfx11-generic gfx900").unwrap();
        assert_eq!(list.len(), 4, "{list:?}");
        assert_eq!(list[1], TargetEntry::Real("gfx90a".into()));
        assert_eq!(list[3].real_targets()[0], "gfx1100");
        assert!(list[3].real_targets().contains(&"gfx1151"));
        assert_eq!(
            parse_target_list("gfx13-generic").unwrap(),
            [TargetEntry::UnknownGeneric("gfx13-generic".into())]
        );
        assert!(parse_target_list(" \n").unwrap().is_empty());
        for bad in [
            "sm_80",
            "gfx1030:xnack",
            "gfx-generic",
            "GFX1030",
            "gfx1030:+",
            "all",
        ] {
            assert_eq!(
                parse_target_list(&format!("gfx900 {bad}"))
                    .unwrap_err()
                    .token,
                bad
            );
        }
    }

    #[test]
    fn worker_tags_name_an_architecture_and_a_real_target() {
        let tag = WorkerTag::parse("amd64+gfx1030").unwrap();
        assert_eq!(
            (tag.architecture.as_str(), tag.gpu.as_str()),
            ("amd64", "gfx1030")
        );
        assert_eq!(tag.to_string(), "amd64+gfx1030");
        assert!(WorkerTag::parse("amd64").is_err());
        assert!(WorkerTag::parse("+gfx1030").is_err());
        assert!(WorkerTag::parse("amd64+cuda").is_err());
        assert!(WorkerTag::parse("amd64+gfx11-generic")
            .unwrap_err()
            .contains("not a generic target"));
        assert!(WorkerTag::parse("AMD64+gfx1030").is_err());
    }

    #[test]
    fn debian_architectures_of_kernel_machine_names() {
        assert_eq!(debian_architecture("x86_64"), Some("amd64"));
        assert_eq!(debian_architecture("aarch64"), Some("arm64"));
        assert_eq!(debian_architecture("ppc64le"), Some("ppc64el"));
        assert_eq!(debian_architecture("mips"), None);
    }
}
