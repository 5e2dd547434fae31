//! The capability names a requirement may use (design §5, `docs/report.md`).

/// Names with a fixed spelling, and whether each carries a version.
const FIXED: &[(&str, bool)] = &[
    ("cpu", false),
    ("x86-64-v2", false),
    ("x86-64-v3", false),
    ("x86-64-v4", false),
    ("arm64-asimd", false),
    ("arm64-dotprod", false),
    ("arm64-fp16", false),
    ("arm64-lse", false),
    ("arm64-bf16", false),
    ("arm64-i8mm", false),
    ("arm64-sve", false),
    ("arm64-sve2", false),
    ("arm64-sme", false),
    ("cuda", true),
    ("cuda-arch", true),
    ("rocm", true),
    ("opencl", true),
    ("opencl-gpu", false),
    ("opencl-fp64", false),
    ("vulkan", true),
    ("vulkan-gpu", false),
    ("level-zero", true),
    ("sycl", false),
    ("gpu", false),
    ("gpu-memory", true),
    ("gpu-count", true),
    ("egl", true),
    ("gles", true),
    ("opengl", true),
    ("gcc-offload-nvptx", false),
    ("gcc-offload-amdgcn", false),
];

/// Families of video capabilities: a prefix naming the interface and direction, then a codec.
const CODEC_FAMILIES: &[&str] = &[
    "vaapi-decode-",
    "vaapi-encode-",
    "nvdec-",
    "nvenc-",
    "vulkan-video-decode-",
    "vulkan-video-encode-",
];

/// The codecs video capabilities name.
const CODECS: &[&str] = &["h264", "hevc", "av1", "vp9", "vp8", "mpeg2", "vc1", "jpeg"];

/// The prefix of the one family of names that is open-ended: one per AMD gfx target.
pub(crate) const ROCM_TARGET_PREFIX: &str = "rocm-gfx";

/// Every fixed name, in documentation order.
pub fn fixed_names() -> impl Iterator<Item = &'static str> {
    FIXED.iter().map(|(name, _)| *name)
}

/// Whether `name` is a capability of the vocabulary.
pub fn is_known(name: &str) -> bool {
    FIXED.iter().any(|(n, _)| *n == name) || is_rocm_target(name) || is_codec_capability(name)
}

/// A video capability such as `vaapi-decode-h264`, `nvenc-hevc` or `vulkan-video-decode-av1`.
pub fn is_codec_capability(name: &str) -> bool {
    CODEC_FAMILIES
        .iter()
        .filter_map(|family| name.strip_prefix(family))
        .any(|codec| CODECS.contains(&codec))
}

/// Every video capability name, for suggestions.
fn codec_names() -> impl Iterator<Item = String> {
    CODEC_FAMILIES
        .iter()
        .flat_map(|family| CODECS.iter().map(move |codec| format!("{family}{codec}")))
}

/// Whether `name` is a known capability that carries a version.
pub fn is_versioned(name: &str) -> bool {
    FIXED.iter().any(|(n, versioned)| *n == name && *versioned)
}

/// `rocm-gfx` followed by the target's lowercase hex digits, as `rocm-gfx90a` or `rocm-gfx1100`.
pub fn is_rocm_target(name: &str) -> bool {
    name.strip_prefix(ROCM_TARGET_PREFIX).is_some_and(|target| {
        !target.is_empty()
            && target
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The longest unknown name [`closest`] compares with the vocabulary, in characters: over twice
/// the longest known name, past which no known name is within the suggestion budget.
pub const MAX_COMPARED_NAME: usize = 64;

/// The known name `name` was most likely meant to be, if any is close enough to be a useful
/// guess rather than noise. Costs time linear in `name`'s length.
pub fn closest(name: &str) -> Option<String> {
    let lower = name.to_lowercase();
    if is_known(&lower) {
        return Some(lower);
    }
    // The report calls the ROCm backend `hip`; people will write what they read there.
    if lower == "hip" {
        return Some("rocm".to_owned());
    }
    let underscored = lower.replace('_', "-");
    if is_known(&underscored) {
        return Some(underscored);
    }
    // Edit distance costs the product of the two lengths; a name this long is further from
    // every known name than the budget below allows, so it is not compared at all.
    if lower.chars().count() > MAX_COMPARED_NAME {
        return None;
    }
    let (best, distance) = FIXED
        .iter()
        .map(|(known, _)| (*known).to_owned())
        .chain(codec_names())
        .map(|known| {
            let distance = strsim::damerau_levenshtein(&lower, &known);
            (known, distance)
        })
        .min_by_key(|(_, distance)| *distance)?;
    let budget = (lower.chars().count() / 3).max(2);
    let is_prefix = lower.chars().count() >= 3 && best.starts_with(&lower);
    (distance <= budget || is_prefix).then(|| best.to_owned())
}

#[cfg(test)]
mod tests {

    #[test]
    fn video_rendering_and_offload_names_are_known() {
        for name in [
            "vaapi-decode-h264",
            "vaapi-encode-hevc",
            "nvdec-av1",
            "nvenc-h264",
            "vulkan-video-decode-h264",
            "vulkan-video-encode-hevc",
            "gcc-offload-nvptx",
            "gcc-offload-amdgcn",
        ] {
            assert!(is_known(name), "{name}");
            assert!(!is_versioned(name), "{name}");
        }
        for name in ["egl", "gles", "opengl"] {
            assert!(is_known(name) && is_versioned(name), "{name}");
        }
        for name in [
            "vaapi-decode-h999",
            "nvdec-",
            "vaapi-h264",
            "vulkan-video-h264",
        ] {
            assert!(!is_known(name), "{name}");
        }
        assert_eq!(
            closest("vaapi-decode-h246").as_deref(),
            Some("vaapi-decode-h264")
        );
        assert_eq!(closest("nvenc_hevc").as_deref(), Some("nvenc-hevc"));
    }

    use super::*;

    #[test]
    fn fixed_names_and_rocm_targets_are_known() {
        assert!(fixed_names().all(is_known));
        assert!(is_known("rocm-gfx90a"));
        assert!(is_known("rocm-gfx1100"));
        assert!(!is_known("rocm-gfx"));
        assert!(!is_known("rocm-gfx90A"));
        assert!(!is_known("rocm-gfx9-generic"));
        assert!(!is_known("CUDA"));
    }

    #[test]
    fn only_measured_capabilities_carry_a_version() {
        for name in [
            "cuda",
            "cuda-arch",
            "rocm",
            "opencl",
            "vulkan",
            "level-zero",
            "gpu-memory",
            "gpu-count",
        ] {
            assert!(is_versioned(name), "{name}");
        }
        for name in [
            "cpu",
            "gpu",
            "opencl-gpu",
            "sycl",
            "rocm-gfx90a",
            "x86-64-v3",
        ] {
            assert!(!is_versioned(name), "{name}");
        }
    }

    #[test]
    fn suggestions_fix_typos_case_and_underscores() {
        assert_eq!(closest("cdua").as_deref(), Some("cuda"));
        assert_eq!(closest("CUDA").as_deref(), Some("cuda"));
        assert_eq!(closest("ROCM-GFX90A").as_deref(), Some("rocm-gfx90a"));
        assert_eq!(closest("level_zero").as_deref(), Some("level-zero"));
        assert_eq!(closest("hip").as_deref(), Some("rocm"));
        assert_eq!(closest("opencl-gpuu").as_deref(), Some("opencl-gpu"));
        assert_eq!(closest("gpu-mem").as_deref(), Some("gpu-memory"));
        assert_eq!(closest("tensorflow"), None);
    }

    #[test]
    fn no_name_longer_than_the_compared_length_could_be_suggested() {
        let longest = fixed_names()
            .map(str::to_owned)
            .chain(codec_names())
            .map(|name| name.chars().count())
            .max()
            .unwrap();
        // The budget of a name of n characters is n / 3, and its distance to a known name is
        // at least n - longest; the prefix rule needs n <= longest.
        let n = MAX_COMPARED_NAME + 1;
        assert!(n - longest > n / 3 && n > longest);
        assert_eq!(closest(&"cuda".repeat(1 << 20)), None);
        assert_eq!(
            closest(&format!("ROCM-GFX{}", "a".repeat(100))),
            Some(format!("rocm-gfx{}", "a".repeat(100)))
        );
    }
}
