//! libFuzzer target for the RESP parsers: every invariant is checked by
//! `lab_02::resp::fuzz_one`, which panics when one breaks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    lab_02::resp::fuzz_one(data);
});
