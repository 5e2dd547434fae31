//! Extracting the `control` file from a binary package, as deb(5) lays it out and as dpkg-deb
//! reads it: an ar archive of `debian-binary`, then `control.tar[.gz|.xz|.zst]`, then
//! `data.tar…`.
//!
//! Everything is read as one stream, in bounded memory: the package is read no further than its
//! control member, that member's decompressed tar archive is walked entry by entry, and only
//! the `control` file itself is kept.

use std::io::{self, Read};

use super::{ControlError, ControlErrorKind, MAX_CONTROL_ARCHIVE, MAX_CONTROL_SIZE};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Xz,
    Zstd,
}

/// The largest zstd window accepted: libzstd's default limit for decompression
/// (`ZSTD_WINDOWLOG_LIMIT_DEFAULT`, 2^27 bytes), which is what dpkg-deb decodes with. The window
/// is reserved, not written, so only what is really decoded costs memory.
const ZSTD_MAX_WINDOW: u64 = 1 << 27;

/// The bytes of `debian-binary` looked at; dpkg-deb reads only the first line of its "2.0\n".
const VERSION_PREFIX: u64 = 64;

/// The bytes of the package's `control` file, read from `reader` no further than the control
/// member, so that a large package's data member is never read.
pub(super) fn control_file(reader: impl Read, origin: &str) -> Result<Vec<u8>, ControlError> {
    let error = |kind, message: String| ControlError::new(kind, origin, message);
    let mut ar = ArReader { reader, origin };
    ar.magic()?;

    let Some(first) = ar.next_member()? else {
        return Err(error(
            ControlErrorKind::NotADeb,
            "not a Debian binary package: the ar archive is empty".to_string(),
        ));
    };
    if first.name != "debian-binary" {
        return Err(error(
            ControlErrorKind::NotADeb,
            format!(
                "not a Debian binary package: the first member is {:?}, not \"debian-binary\"",
                first.name
            ),
        ));
    }
    let mut version = Vec::new();
    ar.body(&first)
        .take(VERSION_PREFIX)
        .read_to_end(&mut version)
        .map_err(|err| ar.truncated(&first, err))?;
    ar.skip_rest(&first, version.len() as u64)?;
    let version = String::from_utf8_lossy(&version);
    let version = version.lines().next().unwrap_or_default().trim();
    if version.split('.').next() != Some("2") || !version.contains('.') {
        return Err(error(
            ControlErrorKind::UnsupportedFormat,
            format!("unsupported .deb format version {version:?} (only 2.x is understood)"),
        ));
    }

    loop {
        let Some(member) = ar.next_member()? else {
            return Err(error(
                ControlErrorKind::MissingMember,
                "the package has no control.tar member".to_string(),
            ));
        };
        // deb(5): members whose names start with an underscore may sit before control.tar and
        // are not for us.
        if member.name.starts_with('_') {
            ar.skip_rest(&member, 0)?;
            continue;
        }
        let compression = match member.name.as_str() {
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
        if member.size > MAX_CONTROL_ARCHIVE {
            return Err(too_large(origin, &member.name, MAX_CONTROL_ARCHIVE));
        }
        let mut body = Counted::new(ar.body(&member));
        let found = find_control(&mut body, compression, origin, &member.name);
        // A member that ends early is named as such, whatever the decompressor made of it.
        if body.count < member.size && body.ended {
            return Err(error(
                ControlErrorKind::Corrupt,
                format!(
                    "member {:?} is truncated: {} of {} bytes",
                    member.name, body.count, member.size
                ),
            ));
        }
        return found;
    }
}

/// One ar member header, as dpkg reads it.
struct Member {
    /// The 16-byte name without trailing spaces and one trailing `/` (GNU ar), up to a NUL.
    name: String,
    size: u64,
}

/// Reads ar member headers the way dpkg's own reader does (lib/dpkg/ar.c): the name field is
/// taken literally, with no GNU or BSD long-name indirection (dpkg-deb never writes one, and a
/// name such as `/123` is just an unexpected member), and sizes are plain decimal.
struct ArReader<'a, R> {
    reader: R,
    origin: &'a str,
}

impl<R: Read> ArReader<'_, R> {
    fn not_a_deb(&self, message: impl Into<String>) -> ControlError {
        ControlError::new(
            ControlErrorKind::NotADeb,
            self.origin,
            format!(
                "not a Debian binary package (ar archive): {}",
                message.into()
            ),
        )
    }

    fn truncated(&self, member: &Member, err: io::Error) -> ControlError {
        self.not_a_deb(format!("member {:?}: {err}", member.name))
            .with_source(err)
    }

    fn magic(&mut self) -> Result<(), ControlError> {
        let mut magic = [0u8; 8];
        match read_full(&mut self.reader, &mut magic) {
            Ok(8) if &magic == b"!<arch>\n" => Ok(()),
            Ok(_) => Err(self.not_a_deb("no \"!<arch>\" magic at the start")),
            Err(err) => Err(self.not_a_deb(err.to_string()).with_source(err)),
        }
    }

    /// The next member's header, `None` at the end of the archive.
    fn next_member(&mut self) -> Result<Option<Member>, ControlError> {
        let mut header = [0u8; 60];
        let read = read_full(&mut self.reader, &mut header)
            .map_err(|err| self.not_a_deb(err.to_string()).with_source(err))?;
        match read {
            0 => return Ok(None),
            60 => {}
            n => return Err(self.not_a_deb(format!("a member header ends after {n} of 60 bytes"))),
        }
        if &header[58..60] != b"`\n" {
            return Err(self.not_a_deb("corrupt member header (no \"`\\n\" terminator)"));
        }
        let raw_name = &header[..16];
        let raw_name = &raw_name[..raw_name.iter().position(|&b| b == 0).unwrap_or(16)];
        let mut name = raw_name;
        while let [rest @ .., b' '] = name {
            name = rest;
        }
        if let [rest @ .., b'/'] = name {
            name = rest;
        }
        let name = String::from_utf8_lossy(name).into_owned();
        let size = parse_size(&header[48..58]).ok_or_else(|| {
            self.not_a_deb(format!(
                "member {name:?} has an invalid size field {:?}",
                String::from_utf8_lossy(&header[48..58])
            ))
        })?;
        Ok(Some(Member { name, size }))
    }

    /// The member's data; the caller reads it, then calls [`ArReader::skip_rest`].
    fn body(&mut self, member: &Member) -> io::Take<&mut R> {
        (&mut self.reader).take(member.size)
    }

    /// Skips what is left of `member` after `consumed` bytes, and its padding byte.
    fn skip_rest(&mut self, member: &Member, consumed: u64) -> Result<(), ControlError> {
        let rest = member.size - consumed.min(member.size);
        let skipped = io::copy(&mut (&mut self.reader).take(rest), &mut io::sink())
            .map_err(|err| self.truncated(member, err))?;
        if skipped < rest {
            return Err(self.not_a_deb(format!(
                "member {:?} is truncated: {} of {} bytes",
                member.name,
                consumed + skipped,
                member.size
            )));
        }
        if member.size % 2 == 1 {
            // The padding byte; a last member may go without it.
            let _ = read_full(&mut self.reader, &mut [0u8; 1]);
        }
        Ok(())
    }
}

/// dpkg's reading of an ar size field: leading spaces, then decimal digits up to a space or
/// the field's end. `None` for any other character, or a value that does not fit.
fn parse_size(field: &[u8]) -> Option<u64> {
    let digits = field.iter().skip_while(|&&b| b == b' ');
    let mut size: u64 = 0;
    for &b in digits.take_while(|&&b| b != b' ') {
        if !b.is_ascii_digit() {
            return None;
        }
        size = size.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(size)
}

/// Reads until `buf` is full or the input ends; the number of bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}

/// A reader that counts what passes through, and remembers whether its input ended and the
/// error it failed with (which a reader on top of it may report as its own).
struct Counted<R> {
    inner: R,
    count: u64,
    ended: bool,
    failure: Option<String>,
}

impl<R> Counted<R> {
    fn new(inner: R) -> Self {
        Counted {
            inner,
            count: 0,
            ended: false,
            failure: None,
        }
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).inspect_err(|err| {
            // The first failure is the cause; a decoder read again after it reports a state.
            if err.kind() != io::ErrorKind::Interrupted && self.failure.is_none() {
                self.failure = Some(err.to_string());
            }
        })?;
        self.count += n as u64;
        self.ended |= n == 0 && !buf.is_empty();
        Ok(n)
    }
}

fn too_large(origin: &str, what: &str, limit: u64) -> ControlError {
    ControlError::new(
        ControlErrorKind::TooLarge,
        origin,
        format!(
            "{what:?} is larger than {} MiB, which no real package's is; refusing it",
            limit / (1024 * 1024)
        ),
    )
}

/// Decompresses the control member as it is read and walks its tar archive for `control`.
fn find_control(
    member: &mut impl Read,
    compression: Compression,
    origin: &str,
    name: &str,
) -> Result<Vec<u8>, ControlError> {
    let corrupt = |err: io::Error| {
        ControlError::new(
            ControlErrorKind::Corrupt,
            origin,
            format!("member {name:?} is truncated or corrupt: {err}"),
        )
        .with_source(err)
    };
    let decoder: Box<dyn Read + '_> = match compression {
        Compression::None => Box::new(member),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(member)),
        // As dpkg: no memory limit and one stream (liblzma's flags 0). The dictionary is
        // reserved up front but written only as far as the (bounded) output goes.
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_stream(
            member,
            liblzma::stream::Stream::new_stream_decoder(u64::MAX, 0)
                .map_err(|err| corrupt(io::Error::other(err)))?,
        )),
        Compression::Zstd => Box::new(
            ruzstd::decoding::StreamingDecoder::new_with_max_window_size(member, ZSTD_MAX_WINDOW)
                .map_err(|err| corrupt(io::Error::other(err.to_string())))?,
        ),
    };
    let mut tar_stream = Counted::new(decoder.take(MAX_CONTROL_ARCHIVE + 1));
    let found = last_control(&mut tar_stream, origin, name);
    // Decompressing to the end verifies the xz and gzip checks, as dpkg-deb's decompressor
    // does: a member whose integrity check fails is corrupt even past the tar archive's end.
    let rest = io::copy(&mut tar_stream, &mut io::sink());
    if tar_stream.count > MAX_CONTROL_ARCHIVE {
        return Err(too_large(
            origin,
            &format!("{name} (decompressed)"),
            MAX_CONTROL_ARCHIVE,
        ));
    }
    // The tar reader reports a failing decompressor as a broken archive; name the real cause.
    if let Some(failure) = tar_stream.failure.take() {
        return Err(corrupt(io::Error::other(failure)));
    }
    let control = found?;
    rest.map_err(corrupt)?;
    Ok(control)
}

/// The last `control` (or `./control`) entry of the tar archive: dpkg-deb extracts the whole
/// archive, so a later entry of the same name replaces an earlier one.
fn last_control(tar: &mut impl Read, origin: &str, member: &str) -> Result<Vec<u8>, ControlError> {
    let corrupt = |err: io::Error| {
        ControlError::new(
            ControlErrorKind::Corrupt,
            origin,
            format!("member {member:?} is not a valid tar archive: {err}"),
        )
        .with_source(err)
    };
    let mut archive = tar::Archive::new(tar);
    let mut last: Option<Result<Vec<u8>, ControlError>> = None;
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let is_control = {
            let path = entry.path_bytes();
            let path = path.strip_prefix(b"./").unwrap_or(&path);
            path == b"control"
        };
        if !is_control {
            continue;
        }
        if !entry.header().entry_type().is_file() {
            last = Some(Err(ControlError::new(
                ControlErrorKind::MissingControlFile,
                origin,
                format!("\"control\" in member {member:?} is not a regular file"),
            )));
            continue;
        }
        let size = entry.size();
        if size > MAX_CONTROL_SIZE as u64 {
            return Err(too_large(
                origin,
                &format!("control file in {member}"),
                MAX_CONTROL_SIZE as u64,
            ));
        }
        let mut control = Vec::new();
        (&mut entry)
            .take(size)
            .read_to_end(&mut control)
            .map_err(corrupt)?;
        if (control.len() as u64) < size {
            return Err(ControlError::new(
                ControlErrorKind::Corrupt,
                origin,
                format!(
                    "member {member:?} is truncated: its control file ends after {} of {size} bytes",
                    control.len()
                ),
            ));
        }
        last = Some(Ok(control));
    }
    last.unwrap_or_else(|| {
        Err(ControlError::new(
            ControlErrorKind::MissingControlFile,
            origin,
            format!("member {member:?} has no control file"),
        ))
    })
}
