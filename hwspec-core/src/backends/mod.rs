//! One module per runtime. Each loads its runtime (unsafe code fenced in the module's loading
//! layer), enumerates devices and runs the validation kernels of [`crate::kernels`].

pub mod cpu;
pub mod cuda;
pub mod hip;
pub mod level_zero;
pub mod opencl;
pub mod vulkan;
