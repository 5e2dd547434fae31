//! One module per runtime. Each loads its runtime (unsafe code fenced in the module's loading
//! layer), enumerates devices and runs the validation kernels of [`crate::kernels`].

pub mod cpu;
pub mod cuda;
pub mod egl;
pub mod gcc_offload;
pub mod hip;
pub mod level_zero;
pub mod nvcodec;
pub mod opencl;
pub mod vaapi;
pub mod vulkan;
