//! The validation: the whole setup a decoder needs before its first picture (a decode config,
//! surfaces and a context) for one profile the driver decodes.

use std::time::Instant;

use super::api::{Display, VaError};
use super::sys::{Entrypoint, Profile};
use super::{profile_name, ENTRYPOINT_VLD};
use crate::model::{Device, Reason, ReasonCode, VaContext, Validation, ValidationKind};

/// Profiles that decode to 8-bit 4:2:0, in the order one is chosen for validation: H.264
/// Constrained Baseline / Main / High, HEVC Main, VP9 Profile 0, AV1 Main, MPEG-2 Main.
pub(super) const VALIDATION_PROFILES: &[Profile] = &[13, 6, 7, 17, 19, 32, 1];
/// Size of the surfaces and context made for validation: one macroblock row of a small
/// picture, which every driver accepts.
pub(super) const VALIDATION_SIZE: (u32, u32) = (64, 64);

/// The profile chosen for the validation context: the first of [`VALIDATION_PROFILES`] the
/// driver decodes.
pub(super) fn validation_profile(supported: &[(Profile, Vec<Entrypoint>)]) -> Option<Profile> {
    VALIDATION_PROFILES.iter().copied().find(|wanted| {
        supported
            .iter()
            .any(|(profile, e)| profile == wanted && e.contains(&ENTRYPOINT_VLD))
    })
}

/// Creates and destroys a decode config, surfaces and context for one supported profile.
pub(super) fn device(display: &Display, device: &mut Device) {
    let supported: Vec<(Profile, Vec<Entrypoint>)> = display
        .profiles()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| display.entrypoints(p).ok().map(|e| (p, e)))
        .collect();
    let Some(profile) = validation_profile(&supported) else {
        device.reason = Some(Reason::new(
            ReasonCode::Unsupported,
            "the driver decodes no 8-bit 4:2:0 profile (H.264, HEVC Main, VP9, AV1, MPEG-2), \
             so no decode context was created",
        ));
        return;
    };
    let (width, height) = VALIDATION_SIZE;
    let started = Instant::now();
    let result = display.create_decode_context(profile, ENTRYPOINT_VLD, width, height);
    record_validation(
        device,
        profile,
        result,
        started.elapsed().as_secs_f64() * 1e3,
    );
}

/// Records the outcome of the validation context in `device`.
pub(super) fn record_validation(
    device: &mut Device,
    profile: Profile,
    result: Result<(), VaError>,
    elapsed_ms: f64,
) {
    device.validations.push(Validation {
        kind: ValidationKind::VaContext(VaContext {
            profile: profile_name(profile),
        }),
        passed: result.is_ok(),
        elapsed_ms,
    });
    match result {
        Ok(()) => device.judge_validations(),
        Err(error) => device.fail(
            ReasonCode::LaunchFailed,
            format!(
                "creating a {} decode context failed: {error}",
                profile_name(profile)
            ),
        ),
    }
}
