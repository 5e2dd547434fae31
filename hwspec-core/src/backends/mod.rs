//! One module per runtime. Each loads its runtime (unsafe code fenced in the module's loading
//! layer), enumerates devices and runs the validation kernels of [`crate::kernels`].

pub mod cpu;
pub mod opencl;
pub mod vulkan;
