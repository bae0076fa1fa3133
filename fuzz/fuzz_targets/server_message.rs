//! Fuzz target `server_message`: see `fuzz/src/server_message.rs` for what it asserts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zoom_rtms_webhooks_fuzz::server_message(data));
