//! Fuzz target `receiver`: see `fuzz/src/lib.rs` for what it asserts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = zoom_rtms_webhooks_fuzz::receiver(data);
});
