use std::path::Path;

use crate::config::{Config, ConfigError};

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, "s3plug.toml", Path::new("/x"))
}

fn plugin(name: &str, trigger: &str, write: &str, extra: &str) -> String {
    format!(
        "[[plugin]]\nname = \"{name}\"\nwasm = \"p.wasm\"\ntrigger = {trigger}\nwrite = [{write}]\n{extra}\n"
    )
}

#[test]
fn a_plugin_writing_onto_its_own_trigger_is_refused() {
    let text = plugin(
        "self",
        r#"{ bucket = "photos", prefix = "in/" }"#,
        r#""photos/""#,
        "",
    );
    let err = parse(&text).expect_err("a self-loop").to_string();
    assert!(
        err.contains("write loop: self writes photos/ → triggers self"),
        "{err}"
    );
    assert!(
        err.contains("set max_depth on every plugin of the cycle (self)"),
        "{err}"
    );
}

#[test]
fn disjoint_prefixes_suffixes_and_events_are_no_loop() {
    // Writes under out/, trigger under in/.
    parse(&plugin(
        "a",
        r#"{ bucket = "photos", prefix = "in/" }"#,
        r#""photos/out/""#,
        "",
    ))
    .expect("no loop");
    // Another bucket.
    parse(&plugin("a", r#"{ bucket = "photos" }"#, r#""thumbs/""#, "")).expect("no loop");
    // Reacts to deletes only... but deletes are writes: a loop.
    assert!(
        parse(&plugin(
            "a",
            r#"{ bucket = "photos", events = ["s3:ObjectRemoved:*"] }"#,
            r#""photos/""#,
            ""
        ))
        .is_err()
    );
    // Reacts to tagging only: writes cannot cause it.
    parse(&plugin(
        "a",
        r#"{ bucket = "photos", events = ["s3:ObjectTagging:*"] }"#,
        r#""photos/""#,
        "",
    ))
    .expect("no loop");
}

#[test]
fn a_two_plugin_cycle_is_named_in_order() {
    let text = [
        plugin(
            "a",
            r#"{ bucket = "photos", prefix = "in/" }"#,
            r#""photos/out/""#,
            "",
        ),
        plugin(
            "b",
            r#"{ bucket = "photos", prefix = "out/" }"#,
            r#""photos/in/""#,
            "",
        ),
    ]
    .concat();
    let err = parse(&text).expect_err("a cycle").to_string();
    assert!(
        err.contains(
            "write loop: a writes photos/out/ → triggers b → b writes photos/in/ → triggers a"
        ),
        "{err}"
    );
    assert!(err.contains("(a, b)"), "{err}");
}

#[test]
fn a_cycle_is_allowed_only_when_every_plugin_on_it_sets_max_depth() {
    let half = [
        plugin(
            "a",
            r#"{ bucket = "photos", prefix = "in/" }"#,
            r#""photos/out/""#,
            "max_depth = 2",
        ),
        plugin(
            "b",
            r#"{ bucket = "photos", prefix = "out/" }"#,
            r#""photos/in/""#,
            "",
        ),
    ]
    .concat();
    let err = parse(&half).expect_err("b lacks max_depth").to_string();
    assert!(err.contains("(b)"), "{err}");
    let both = half.replace(
        "write = [\"photos/in/\"]\n",
        "write = [\"photos/in/\"]\nmax_depth = 3",
    );
    let config = parse(&both).expect("allowed");
    assert_eq!(config.plugins[1].max_depth, Some(3));
}

#[test]
fn a_longer_cycle_through_a_third_plugin_is_found() {
    let text = [
        plugin("a", r#"{ bucket = "bk1", prefix = "x/" }"#, r#""bk2/""#, ""),
        plugin("b", r#"{ bucket = "bk2" }"#, r#""bk3/y/""#, ""),
        plugin(
            "c",
            r#"{ bucket = "bk3", prefix = "y/z/" }"#,
            r#""bk1/x/deeper/""#,
            "",
        ),
        plugin("d", r#"{ bucket = "bk4" }"#, r#""bk1/other/""#, ""),
    ]
    .concat();
    let err = parse(&text).expect_err("a → b → c → a").to_string();
    assert!(err.contains("a writes bk2/ → triggers b → b writes bk3/y/ → triggers c → c writes bk1/x/deeper/ → triggers a"), "{err}");
}

#[test]
fn overlapping_routes_are_listed() {
    let text = [
        plugin("a", r#"{ bucket = "photos", prefix = "in/" }"#, "", ""),
        plugin("b", r#"{ bucket = "photos", suffix = ".jpg" }"#, "", ""),
        plugin(
            "c",
            r#"{ bucket = "photos", prefix = "in/", events = ["s3:ObjectRemoved:*"] }"#,
            "",
            "",
        ),
    ]
    .concat();
    let config = parse(&text).expect("valid");
    let overlaps: Vec<_> = super::overlapping_routes(&config.plugins)
        .into_iter()
        .map(|o| (o.first, o.second))
        .collect();
    assert_eq!(overlaps, [(0, 1)]);
}
