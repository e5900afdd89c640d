//! `config::apply_env` on arbitrary `SPIFFE_HLP_*` variables (scalars and JSON blocks), then
//! validation: never panics; an error names one of the variables given; the order the
//! environment lists them in does not matter; and a configuration that validates prints
//! (`-validate`) a JSON `helper.conf` that reads back and validates to the same output.
//!
//! Input: `NAME=VALUE` records separated by NUL bytes (neither can hold a NUL in a real
//! environment; a name holds no `=`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use svid_core::config::{self, Config};

fuzz_target!(|data: &[u8]| {
    let vars: Vec<(&[u8], &[u8])> = data
        .split(|&b| b == 0)
        .filter_map(|record| {
            let eq = record.iter().position(|&b| b == b'=')?;
            Some((&record[..eq], &record[eq + 1..]))
        })
        .collect();
    // The same name twice cannot happen in an environment.
    let mut names: Vec<&[u8]> = vars.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return;
    }
    let mut forward = Config::default();
    let result = config::apply_env(&mut forward, vars.iter().copied());
    let mut backward = Config::default();
    let reversed = config::apply_env(&mut backward, vars.iter().rev().copied());
    assert_eq!(result, reversed);
    match result {
        Err(e) => assert!(
            vars.iter()
                .any(|(n, _)| String::from_utf8_lossy(n) == e.var.as_str())
        ),
        Ok(_) => {
            assert_eq!(forward, backward);
            if let Ok((validated, _)) = forward.validate(None, None) {
                let json = validated.to_json();
                let again = config::parse(&json)
                    .unwrap_or_else(|e| panic!("{e}\n{json}"))
                    .validate(None, None)
                    .unwrap_or_else(|e| panic!("{e}\n{json}"))
                    .0;
                assert_eq!(again.to_json(), json);
            }
        }
    }
});
