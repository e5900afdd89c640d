//! `config::parse` on arbitrary `helper.conf` text, HCL or JSON (JSON when it starts with
//! `{`), then validation: never panics, and errors point inside the text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svid_core::config;

fuzz_target!(|text: &str| {
    match config::parse(text) {
        Ok(config) => {
            let _ = config.clone().validate(None, None);
            let _ = config.validate(Some(false), Some("unix:///tmp/agent.sock"));
        }
        Err(e) => {
            let lines = text.split('\n').count();
            let line = e.pos.line as usize;
            assert!(line >= 1 && line <= lines, "{e} in {lines} lines");
        }
    }
});
