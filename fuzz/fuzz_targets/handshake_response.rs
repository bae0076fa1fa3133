//! Fuzz target `handshake_response`: see `fuzz/src/lib.rs` for what it asserts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zoom_rtms_webhooks_fuzz::handshake_response(data));
