//! Any UTF-8 text, as a configuration file: parsing never panics, a refusal displays as a
//! message, and what is accepted displays as something that parses back to itself.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use s3plug_host::Config;
use s3plug_host::grant::Grant;
use s3plug_host::route::EventPattern;

fuzz_target!(|bytes: &[u8]| {
    // Config files are read as text; bytes that are no UTF-8 never reach the parser.
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let config = match Config::parse(text, "fuzz.toml", Path::new("/etc/s3plug")) {
        Ok(config) => config,
        Err(err) => {
            assert!(!err.to_string().is_empty(), "{err:?}");
            return;
        }
    };
    assert!(!config.plugins.is_empty());
    for plugin in &config.plugins {
        assert!(!plugin.wasm.to_string().is_empty());
        assert!(!plugin.trigger.to_string().is_empty());
        for pattern in &plugin.trigger.events {
            let shown = pattern.to_string();
            assert_eq!(
                EventPattern::parse(&shown).as_ref(),
                Ok(pattern),
                "{shown:?}"
            );
        }
        for grant in plugin.grants.read.iter().chain(&plugin.grants.write) {
            let shown = grant.to_string();
            assert_eq!(shown.parse::<Grant>().as_ref(), Ok(grant), "{shown:?}");
        }
    }
});
