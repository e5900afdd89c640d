//! `config::split_cmd_args` (Go `encoding/csv` with a space separator) on arbitrary text:
//! never panics, and quoting every argument csv-style and splitting again gives them back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svid_core::config::split_cmd_args;

fuzz_target!(|text: &str| {
    let Ok(args) = split_cmd_args(text) else {
        return;
    };
    // Go's csv reader turns \r\n inside quotes into \n: such arguments do not round-trip.
    if args.is_empty() || args.iter().any(|a| a.contains('\r')) {
        return;
    }
    let quoted: Vec<String> = args
        .iter()
        .map(|a| format!("\"{}\"", a.replace('"', "\"\"")))
        .collect();
    assert_eq!(split_cmd_args(&quoted.join(" ")).as_ref(), Ok(&args));
});
