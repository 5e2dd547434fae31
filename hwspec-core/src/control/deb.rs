//! Extracting the `control` file from a binary package, as deb(5) lays it out: an ar archive
//! of `debian-binary`, then `control.tar[.gz|.xz|.zst]`, then `data.tar…`.

use std::io::{self, Read};

use super::{ControlError, ControlErrorKind, MAX_CONTROL_SIZE};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Xz,
    Zstd,
}

/// The bytes of the package's `control` file, read from `reader` no further than the control
/// member, so that a large package's data member is never read.
pub(super) fn control_file(reader: impl Read, origin: &str) -> Result<Vec<u8>, ControlError> {
    let error = |kind, message: String| ControlError::new(kind, origin, message);
    let not_a_deb = |err: io::Error| {
        error(
            ControlErrorKind::NotADeb,
            format!("not a Debian binary package (ar archive): {err}"),
        )
        .with_source(err)
    };
    let mut archive = ar::Archive::new(reader);

    let mut first = match archive.next_entry() {
        None => {
            return Err(error(
                ControlErrorKind::NotADeb,
                "not a Debian binary package: the ar archive is empty".to_string(),
            ))
        }
        Some(entry) => entry.map_err(not_a_deb)?,
    };
    let first_name = member_name(first.header().identifier());
    if first_name != "debian-binary" {
        return Err(error(
            ControlErrorKind::NotADeb,
            format!(
                "not a Debian binary package: the first member is {first_name:?}, not \"debian-binary\""
            ),
        ));
    }
    let mut version = Vec::new();
    // dpkg-deb reads only the first line; a few bytes are enough for any real "2.0\n".
    (&mut first)
        .take(64)
        .read_to_end(&mut version)
        .map_err(not_a_deb)?;
    let version = String::from_utf8_lossy(&version);
    let version = version.lines().next().unwrap_or_default().trim();
    if version.split('.').next() != Some("2") || !version.contains('.') {
        return Err(error(
            ControlErrorKind::UnsupportedFormat,
            format!("unsupported .deb format version {version:?} (only 2.x is understood)"),
        ));
    }
    drop(first);

    loop {
        let mut member = match archive.next_entry() {
            None => {
                return Err(error(
                    ControlErrorKind::MissingMember,
                    "the package has no control.tar member".to_string(),
                ))
            }
            Some(entry) => entry.map_err(not_a_deb)?,
        };
        let name = member_name(member.header().identifier());
        // deb(5): members whose names start with an underscore may sit before control.tar and
        // are not for us.
        if name.starts_with('_') {
            continue;
        }
        let compression = match name.as_str() {
            "control.tar" => Compression::None,
            "control.tar.gz" => Compression::Gzip,
            "control.tar.xz" => Compression::Xz,
            "control.tar.zst" => Compression::Zstd,
            other if other.starts_with("control.tar") => {
                return Err(error(
                    ControlErrorKind::UnsupportedCompression,
                    format!(
                        "control member {other:?} is compressed in a way dpkg-deb does not write (gzip, xz, zstd or none)"
                    ),
                ))
            }
            other => {
                return Err(error(
                    ControlErrorKind::MissingMember,
                    format!("expected the control.tar member after debian-binary, found {other:?}"),
                ))
            }
        };
        let size = member.header().size();
        if size > MAX_CONTROL_SIZE as u64 {
            return Err(too_large(origin, &name));
        }
        let mut compressed = Vec::new();
        (&mut member)
            .take(size)
            .read_to_end(&mut compressed)
            .map_err(not_a_deb)?;
        if (compressed.len() as u64) < size {
            return Err(error(
                ControlErrorKind::Corrupt,
                format!(
                    "member {name:?} is truncated: {} of {size} bytes",
                    compressed.len()
                ),
            ));
        }
        let tar = decompress(&compressed, compression, origin, &name)?;
        return find_control(&tar, origin, &name);
    }
}

/// Member names as dpkg-deb writes them ("debian-binary   "), or GNU ar's ("debian-binary/").
fn member_name(identifier: &[u8]) -> String {
    let name = String::from_utf8_lossy(identifier);
    name.trim_end_matches(' ').trim_end_matches('/').to_string()
}

fn too_large(origin: &str, member: &str) -> ControlError {
    ControlError::new(
        ControlErrorKind::TooLarge,
        origin,
        format!(
            "member {member:?} is larger than {} MiB, which no real control archive is; refusing it",
            MAX_CONTROL_SIZE / (1024 * 1024)
        ),
    )
}

fn decompress(
    compressed: &[u8],
    compression: Compression,
    origin: &str,
    member: &str,
) -> Result<Vec<u8>, ControlError> {
    let corrupt = |err: String| {
        ControlError::new(
            ControlErrorKind::Corrupt,
            origin,
            format!("member {member:?} is truncated or corrupt: {err}"),
        )
    };
    let bounded = |reader: &mut dyn Read| -> Result<Vec<u8>, ControlError> {
        let mut out = Vec::new();
        reader
            .take(MAX_CONTROL_SIZE as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|err| corrupt(err.to_string()))?;
        if out.len() > MAX_CONTROL_SIZE {
            return Err(too_large(origin, member));
        }
        Ok(out)
    };
    match compression {
        Compression::None => Ok(compressed.to_vec()),
        Compression::Gzip => bounded(&mut flate2::read::MultiGzDecoder::new(compressed)),
        Compression::Zstd => {
            // The window is allocated up front from the frame header; a window larger than
            // what we would ever accept as output only serves to make us allocate.
            let mut decoder = ruzstd::decoding::StreamingDecoder::new_with_max_window_size(
                compressed,
                MAX_CONTROL_SIZE as u64,
            )
            .map_err(|err| corrupt(err.to_string()))?;
            bounded(&mut decoder)
        }
        Compression::Xz => {
            // lzma-rs keeps the whole output of a dictionary in memory before writing it out,
            // so the size is checked from the LZMA2 chunk headers before decoding.
            let size = xz_unpacked_size(compressed).map_err(corrupt)?;
            if size > MAX_CONTROL_SIZE as u64 {
                return Err(too_large(origin, member));
            }
            let mut out = Vec::new();
            lzma_rs::xz_decompress(&mut &compressed[..], &mut out)
                .map_err(|err| corrupt(err.to_string()))?;
            Ok(out)
        }
    }
}

/// The number of bytes the first stream of an xz file decodes to, summed from its LZMA2 chunk
/// headers (xz-file-format §3, LZMA2 chunk layout) without decoding anything.
pub(super) fn xz_unpacked_size(data: &[u8]) -> Result<u64, String> {
    let truncated = || "xz stream ends early".to_string();
    let byte = |pos: usize| data.get(pos).copied().ok_or_else(truncated);
    let be16 = |pos: usize| -> Result<u64, String> {
        Ok(u64::from(byte(pos)?) << 8 | u64::from(byte(pos + 1)?))
    };
    if !data.starts_with(&[0xFD, b'7', b'z', b'X', b'Z', 0x00]) {
        return Err("not xz data (bad magic)".to_string());
    }
    let check_size = match byte(7)? & 0x0F {
        0 => 0,
        1..=3 => 4,
        4..=6 => 8,
        7..=9 => 16,
        10..=12 => 32,
        _ => 64,
    };
    let mut pos = 12;
    let mut total: u64 = 0;
    loop {
        let header = byte(pos)?;
        if header == 0 {
            // The index: every block has been seen.
            return Ok(total);
        }
        let block_start = pos;
        pos += (usize::from(header) + 1) * 4;
        loop {
            let control = byte(pos)?;
            pos += 1;
            match control {
                0x00 => break,
                0x01 | 0x02 => {
                    let size = be16(pos)? + 1;
                    pos += 2 + size as usize;
                    total += size;
                }
                0x80..=0xFF => {
                    total += (u64::from(control & 0x1F) << 16 | be16(pos)?) + 1;
                    let packed = be16(pos + 2)? + 1;
                    pos += 4 + usize::from(control >= 0xC0) + packed as usize;
                }
                _ => return Err(format!("invalid LZMA2 chunk header {control:#04x}")),
            }
            if total > MAX_CONTROL_SIZE as u64 {
                return Ok(total);
            }
        }
        pos += (4 - (pos - block_start) % 4) % 4 + check_size;
    }
}

fn find_control(tar: &[u8], origin: &str, member: &str) -> Result<Vec<u8>, ControlError> {
    let corrupt = |err: io::Error| {
        ControlError::new(
            ControlErrorKind::Corrupt,
            origin,
            format!("member {member:?} is not a valid tar archive: {err}"),
        )
        .with_source(err)
    };
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let path = entry.path().map_err(corrupt)?;
        let path = path.to_string_lossy();
        if path.strip_prefix("./").unwrap_or(&path) != "control" {
            continue;
        }
        if !entry.header().entry_type().is_file() {
            return Err(ControlError::new(
                ControlErrorKind::MissingControlFile,
                origin,
                format!("\"control\" in member {member:?} is not a regular file"),
            ));
        }
        let mut control = Vec::new();
        entry.read_to_end(&mut control).map_err(corrupt)?;
        return Ok(control);
    }
    Err(ControlError::new(
        ControlErrorKind::MissingControlFile,
        origin,
        format!("member {member:?} has no control file"),
    ))
}
