//! The thin OS layer: the only code that talks to the kernel. It knows nothing
//! of config syntax or restart policy.
pub mod clock;
pub mod event;
pub mod fd;
pub mod logfile;
pub mod once;
pub mod path;
pub mod process;
pub mod signal;
pub mod socket;
pub mod spawn;
