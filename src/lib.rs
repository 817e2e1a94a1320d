//! svc's pure side as a library: config text → Config → Supervisor →
//! actions, the protocols and encodings. No module here makes a syscall,
//! reads the clock or uses the OS layer (which lives in the binary, with
//! the verbs), so that unit tests, fuzz targets and benchmarks link it on
//! any host.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
// The state machine's steps take the service, its definition, the time and
// the action list besides their own arguments; a context struct would only
// rename them.
#![allow(clippy::too_many_arguments)]
// Tables are built by `const fn new` for statics in .bss; a Default impl
// would be code nothing calls.
#![allow(clippy::new_without_default)]

pub mod addr;
pub mod adopt;
pub mod argv;
pub mod backoff;
pub mod cli;
pub mod clients;
pub mod config;
pub mod duration;
// The fuzz targets' entry points (fuzz/, tests/fuzz_corpus.rs); not for the binary.
#[doc(hidden)]
// Only with the `fuzzing` feature (fuzz/, tests/fuzz_corpus.rs): present in
// the library, it changes what LTO inlines into the binary (core::fmt came in).
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod init;
pub mod limits;
pub mod notify;
pub mod order;
pub mod passwd;
pub mod pin;
pub mod proto;
pub mod reload;
pub mod reply;
pub mod ring;
pub mod service;
pub mod signame;
pub mod state;
pub mod status;
pub mod supervisor;
pub mod text;
