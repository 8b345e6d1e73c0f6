use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, "s3plug.toml", Path::new("/etc/s3plug"))
}

const FULL: &str = r#"
[host]
concurrency = 4

[[plugin]]
name = "thumbnail"
wasm = "plugins/thumbnail.wasm"
trigger = { bucket = "photos", prefix = "incoming/", suffix = ".jpg", events = ["s3:ObjectCreated:*"] }
read  = ["photos/incoming/"]
write = ["photos-thumbs/"]
limits = { timeout_ms = 3000, memory_mib = 128, max_writes = 4 }
config = { width = 200, name = "x", on = true }
"#;

#[test]
fn a_full_entry_is_read() {
    let config = parse(FULL).unwrap();
    assert_eq!(config.host.concurrency, 4);
    let plugin = &config.plugins[0];
    assert_eq!(plugin.name, "thumbnail");
    assert_eq!(
        plugin.wasm,
        PluginSource::File("/etc/s3plug/plugins/thumbnail.wasm".into())
    );
    assert_eq!(plugin.trigger.to_string(), "photos/incoming/*.jpg");
    assert_eq!(plugin.grants.write[0].to_string(), "photos-thumbs/");
    assert_eq!(plugin.limits.timeout, Duration::from_millis(3000));
    assert_eq!(plugin.limits.memory_bytes, 128 << 20);
    assert_eq!(plugin.limits.max_writes, 4);
    assert_eq!(plugin.limits.max_log_lines, DEFAULT_LIMITS.max_log_lines);
    assert_eq!(plugin.config.get("width").map(String::as_str), Some("200"));
    assert_eq!(plugin.config.get("on").map(String::as_str), Some("true"));
}

#[test]
fn defaults_fill_what_is_left_out() {
    let config =
        parse("[[plugin]]\nname = \"a\"\nwasm = \"/a.wasm\"\ntrigger = { bucket = \"photos\" }\n")
            .unwrap();
    let plugin = &config.plugins[0];
    assert_eq!(plugin.wasm, PluginSource::File("/a.wasm".into()));
    assert_eq!(plugin.sha256, None);
    assert_eq!(plugin.limits, DEFAULT_LIMITS);
    assert_eq!(plugin.trigger.events[0].to_string(), DEFAULT_EVENTS);
    assert!(plugin.grants.read.is_empty() && plugin.grants.write.is_empty());
    assert_eq!(config.host.concurrency, DEFAULT_CONCURRENCY);
}

#[test]
fn unknown_keys_name_the_plugin_the_key_and_the_line() {
    let text = FULL.replace("limits = {", "limitz = {");
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.contains("plugin \"thumbnail\""), "{err}");
    assert!(err.contains("limitz"), "{err}");
    assert!(err.starts_with("s3plug.toml:11:"), "{err}");

    let err = parse(&FULL.replace("max_writes = 4", "max_writez = 4"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("plugin \"thumbnail\"") && err.contains("max_writez"),
        "{err}"
    );

    let err = parse(&FULL.replace("[host]", "[hots]"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("hots") && !err.contains("plugin \""), "{err}");
}

#[test]
fn bad_values_name_the_plugin_and_the_key() {
    for (from, to, key) in [
        ("timeout_ms = 3000", "timeout_ms = 0", "limits.timeout_ms"),
        (
            "memory_mib = 128",
            "memory_mib = 100000",
            "limits.memory_mib",
        ),
        (
            "\"s3:ObjectCreated:*\"",
            "\"s3:ObjectMade:*\"",
            "trigger.events",
        ),
        ("\"photos-thumbs/\"", "\"Photos/\"", "write"),
        ("bucket = \"photos\"", "bucket = \"\"", "trigger.bucket"),
        ("name = \"x\"", "name = [1]", "config.name"),
        ("name = \"thumbnail\"", "name = \"Thumb Nail\"", "name"),
    ] {
        let text = FULL.replace(from, to);
        assert_ne!(text, FULL, "{from}");
        let err = parse(&text).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(&format!("key {key:?}")),
            "{key}: {message}"
        );
        assert!(
            matches!(err, ConfigError::Invalid { .. }),
            "{key}: {message}"
        );
    }
}

#[test]
fn wrong_types_are_syntax_errors_with_the_plugin() {
    let err = parse(&FULL.replace("max_writes = 4", "max_writes = \"four\""))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("plugin \"thumbnail\"") && err.contains(":11:"),
        "{err}"
    );
}

#[test]
fn duplicate_names_and_empty_configs_are_refused() {
    let twice = format!("{FULL}\n{}", FULL.replace("[host]\nconcurrency = 4\n", ""));
    assert!(
        parse(&twice)
            .unwrap_err()
            .to_string()
            .contains("two plugins have this name")
    );
    assert!(
        parse("")
            .unwrap_err()
            .to_string()
            .contains("no [[plugin]] entries")
    );
    let err = parse(&FULL.replace("concurrency = 4", "concurrency = 0"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("host.concurrency"), "{err}");
}

#[test]
fn plugins_come_from_files_or_s3_pinned_by_sha256() {
    let text = FULL.replace(
        "wasm = \"plugins/thumbnail.wasm\"",
        "wasm = \"s3://deploy-bucket/plugins/thumb nail.wasm\"\nsha256 = \"ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789\"",
    );
    let plugin = &parse(&text).expect("valid").plugins[0];
    assert_eq!(
        plugin.wasm,
        PluginSource::S3 {
            bucket: "deploy-bucket".into(),
            key: "plugins/thumb nail.wasm".into()
        }
    );
    assert_eq!(
        plugin.wasm.to_string(),
        "s3://deploy-bucket/plugins/thumb nail.wasm"
    );
    assert_eq!(
        plugin.sha256.as_deref(),
        Some("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789")
    );

    for (wasm, sha) in [
        ("s3://Bad/x.wasm", None),
        ("s3://bucket/", None),
        ("plugins/t.wasm", Some("abc")),
    ] {
        let mut text = FULL.replace("plugins/thumbnail.wasm", wasm);
        if let Some(sha) = sha {
            text = text.replace("trigger = {", &format!("sha256 = \"{sha}\"\ntrigger = {{"));
        }
        let err = parse(&text).expect_err(wasm).to_string();
        let key = if sha.is_some() { "sha256" } else { "wasm" };
        assert!(err.contains(&format!("key \"{key}\"")), "{err}");
    }
}

const PIN: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A plugin with its code at `wasm` and one write grant.
fn entry(name: &str, wasm: &str, prefix: &str, write: &str) -> String {
    format!(
        "[[plugin]]\nname = \"{name}\"\nwasm = \"{wasm}\"\nsha256 = \"{PIN}\"\n\
         trigger = {{ bucket = \"photos\", prefix = \"{prefix}\" }}\nwrite = [\"{write}\"]\n"
    )
}

#[test]
fn no_plugin_may_write_the_code_of_a_plugin_in_a_bucket() {
    let refused = |write: &str| {
        let text = [
            entry("a", "/p/a.wasm", "in/", write),
            entry("b", "s3://code/b.wasm", "up/", "thumbs/"),
        ]
        .concat();
        parse(&text).map(|_| ()).map_err(|e| e.to_string())
    };
    assert_eq!(
        refused("code/").unwrap_err(),
        "s3plug.toml: plugin \"a\" may write s3://code/b.wasm, the code of plugin \"b\", \
         through its write grant \"code/\": a plugin could replace another's code"
    );
    for write in ["code", "code/b", "code/b.wasm"] {
        assert!(refused(write).is_err(), "{write}");
    }
    // Grants that cannot hold the key.
    for write in ["code/a/", "code/b.wasm.d/", "code2/", "thumbs/code/"] {
        refused(write).unwrap_or_else(|err| panic!("{write}: {err}"));
    }

    let own = [entry("a", "s3://code/a.cwasm", "in/", "code/")].concat();
    assert_eq!(
        parse(&own).unwrap_err().to_string(),
        "s3plug.toml: plugin \"a\" may write s3://code/a.cwasm, its own code, through its \
         write grant \"code/\": a plugin could replace its own code"
    );
}

#[test]
fn no_plugin_may_write_the_host_state() {
    let with_state = |write: &str| {
        let text = format!(
            "[host]\nstate = \"photos/state/\"\n{}",
            entry("a", "/p/a.wasm", "in/", write)
        );
        parse(&text).map(|_| ()).map_err(|e| e.to_string())
    };
    assert_eq!(
        with_state("photos/").unwrap_err(),
        "s3plug.toml: plugin \"a\" may write photos/state/, the host's state ([host] state), \
         through its write grant \"photos/\": a plugin could forge duplicate markers or loop \
         tombstones"
    );
    // A grant inside the state names the part of it the plugin reaches.
    let err = with_state("photos/state/markers/").unwrap_err();
    assert!(
        err.contains("may write photos/state/markers/, the host's state"),
        "{err}"
    );
    for write in ["photos/stat", "photos/state/", "photos"] {
        assert!(with_state(write).is_err(), "{write}");
    }
    for write in [
        "photos/out/",
        "photos/states/",
        "state/",
        "thumbs/photos/state/",
    ] {
        with_state(write).unwrap_or_else(|err| panic!("{write}: {err}"));
    }
}

#[test]
fn precompiled_code_from_a_bucket_must_be_pinned() {
    let text = "[[plugin]]\nname = \"a\"\nwasm = \"s3://code/a.cwasm\"\ntrigger = { bucket = \"photos\" }\n";
    assert_eq!(
        parse(text).unwrap_err().to_string(),
        "s3plug.toml: plugin \"a\": key \"wasm\": s3://code/a.cwasm is precompiled native code \
         from a bucket and has no sha256: add sha256 = \"<its SHA-256>\" to pin it, or ship it \
         in the deployment package"
    );
    assert!(parse(&text.replace(".cwasm", ".CWASM")).is_err());
    // Pinned, from the package, or a component (compiled by the host): loaded.
    parse(&text.replace("trigger", &format!("sha256 = \"{PIN}\"\ntrigger"))).expect("pinned");
    parse(&text.replace("s3://code/", "plugins/")).expect("in the package");
    parse(&text.replace(".cwasm", ".wasm")).expect("a component");
}
