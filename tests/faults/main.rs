//! Fault injection (issue 4, design §3, §4, §7): vendor runtimes that hang, crash, exit, spew,
//! fork or lie, put in front of the real libraries with `LD_LIBRARY_PATH`, `OCL_ICD_VENDORS` and
//! `VK_DRIVER_FILES`, and callers with a hostile environment. Every case checks the promise made
//! to a buildd: `hwspec probe` returns within its deadline plus one second, exits 0, gives the
//! affected backend the documented state and reason, reports the others as usual, writes
//! nothing but its own JSON to stdout, and leaves no process behind.
//!
//! `docs/reliability.md` is the matrix of these cases; a test below keeps it complete.
//!
//! The tests run as root on CI, where hwspec drops loader variables from its workers'
//! environment unless told `--trust-env`, so every case that injects through the environment
//! passes it.

#[path = "../support/mod.rs"]
mod support;

mod cuda;
mod egl;
mod environment;
mod everything;
mod hip;
mod opencl;
mod vaapi;
mod vulkan;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use hwspec_core::model::BackendName;
use serde_json::Value;
use support::harness::*;
use support::{backend, compile_shared_object, scratch_dir};

use cuda::{cuda_fault, CUDA_BACKENDS};
use opencl::{icd_naming, vendors_dir, warning_naming};
use vulkan::home_with_crashing_layer;

// The matrix stays true.

/// Every test in this folder has its row in docs/reliability.md, so the matrix cannot drift
/// from what is tested.
#[test]
fn every_fault_test_is_in_the_reliability_matrix() {
    support::assert_every_test_is_documented("tests/faults", "docs/reliability.md", 30);
}
