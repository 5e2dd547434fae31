//! NVIDIA's video engines: NVDEC through `libnvcuvid.so.1` and NVENC through
//! `libnvidia-encode.so.1`, asked on a CUDA context per device which of H.264, HEVC, VP9 and
//! AV1 they decode and which of H.264, HEVC and AV1 they encode.
//!
//! [`sys`] declares and loads the two libraries, [`api`] makes the calls, [`validate`] turns the
//! answers into features and the `codec-query` validation. libcuda is opened, initialised and
//! judged by the CUDA backend ([`cuda::initialise`]), which also makes the contexts. No stream
//! is decoded or encoded, so that is all a device's validation proves.

mod api;
mod sys;
mod validate;

#[cfg(test)]
mod tests;

use self::sys::{Nvdec, Nvenc};
use crate::backends::common::capabilities;
use crate::backends::{cuda, Backend, Runtime, Variables};
use crate::model::{
    BackendName, BackendReport, Capability, Device, DeviceKind, Level, Reason, ReasonCode, Status,
};
use crate::protocol::{Progress, Stage};

/// Probes NVDEC and NVENC.
#[derive(Debug)]
pub struct NvcodecBackend;

impl Backend for NvcodecBackend {
    fn probe(&self, level: Level, progress: &mut dyn Progress) -> BackendReport {
        probe_with((sys::NVCUVID_SONAME, sys::NVENCODE_SONAME), level, progress)
    }

    /// Each proven device's codecs, named after the interface: `nvdec-av1`, `nvenc-h264`.
    fn capabilities(&self, _report: &BackendReport, proven: &[&Device]) -> Vec<Capability> {
        capabilities::renamed_features(proven, |f| {
            f.strip_prefix("decode-")
                .map(|c| format!("nvdec-{c}"))
                .or_else(|| f.strip_prefix("encode-").map(|c| format!("nvenc-{c}")))
        })
    }

    /// CUDA's variables: NVDEC and NVENC work in a CUDA context.
    fn variables(&self) -> Variables {
        cuda::CudaBackend.variables()
    }

    /// Without NVDEC's and NVENC's libraries the backend is absent, before libcuda is asked.
    fn runtime(&self) -> Option<Runtime> {
        Some(Runtime {
            libraries: vec![sys::NVCUVID_SONAME, sys::NVENCODE_SONAME],
            absent,
        })
    }
}

/// The report when neither NVDEC's nor NVENC's library could be opened, `why` saying so.
fn absent(why: &str) -> BackendReport {
    BackendReport::absent(
        BackendName::Nvcodec,
        ReasonCode::LibraryNotFound,
        format!("neither NVDEC nor NVENC could be loaded: {why}"),
    )
}

/// Probes with the given library names; tests name missing ones.
fn probe_with(
    sonames: (&'static str, &'static str),
    level: Level,
    progress: &mut dyn Progress,
) -> BackendReport {
    progress.stage(Stage::Load);
    let decoder = Nvdec::load(sonames.0);
    let encoder = Nvenc::load(sonames.1);
    if let (Err(dec), Err(enc)) = (&decoder, &encoder) {
        return absent(&format!("{dec}; {enc}"));
    }
    let mut warnings: Vec<String> = [&decoder.as_ref().err(), &encoder.as_ref().err()]
        .into_iter()
        .flatten()
        .map(|why| format!("not used: {why}"))
        .collect();
    let library = crate::sys::loaded_library("libnvcuvid.so")
        .or_else(|| crate::sys::loaded_library("libnvidia-encode.so"));

    // NVDEC and NVENC need a CUDA context: libcuda is judged exactly as the CUDA backend
    // judges it, so "no NVIDIA device" reads absent/no-device here as there.
    let cuda = match cuda::initialise(BackendName::Nvcodec, &cuda::libcuda_candidates(), progress) {
        Ok(cuda) => cuda,
        Err(report) => {
            return BackendReport {
                library,
                warnings,
                ..*report
            }
        }
    };
    let ids = match cuda.devices(BackendName::Nvcodec) {
        Ok(ids) => ids,
        Err(report) => {
            return BackendReport {
                library,
                warnings,
                ..*report
            }
        }
    };

    progress.stage(Stage::Enumerate);
    let mut report = cuda.report(BackendName::Nvcodec, Status::Enumerated, None);
    report.library = library;
    report.warnings.append(&mut warnings);
    for (ordinal, &id) in ids.iter().enumerate() {
        let mut device = Device::new(format!("CUDA device {ordinal}"), "NVIDIA", DeviceKind::Gpu);
        match cuda.context(id) {
            Ok(context) => validate::query(
                &mut device,
                &context,
                decoder.as_ref().ok(),
                encoder.as_ref().ok(),
                level,
            ),
            Err(error) => {
                device.status = Status::Unusable;
                device.reason = Some(Reason::new(ReasonCode::DriverError, error.to_string()));
            }
        }
        report.devices.push(device);
    }
    report.settle_status();
    progress.partial(&report);
    report
}
