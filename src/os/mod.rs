//! The thin OS layer: the only code that talks to the kernel. It knows nothing
//! of config syntax or restart policy.
pub mod fd;
pub mod process;
pub mod spawn;
