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

const STATE: &str = "[host]\nstate = \"photos/state/\"\n";

fn graph(config: &Config) -> super::LoopGraph {
    super::LoopGraph::new(&config.plugins)
}

#[test]
fn an_allowed_cycle_through_a_delete_needs_host_state() {
    // Deletes under in/, and reacts to deletes under in/: each delete can cause the next.
    let text = plugin(
        "a",
        r#"{ bucket = "photos", prefix = "in/", events = ["s3:ObjectRemoved:*"] }"#,
        r#""photos/in/""#,
        "max_depth = 3",
    );
    let err = parse(&text).expect_err("no [host] state").to_string();
    assert_eq!(
        err,
        "s3plug.toml: write loop through a delete: a writes photos/in/ → triggers a on delete; \
         the depth of a deleted object cannot be carried across the delete without [host] \
         state: set [host] state = \"bucket/prefix/\" so the host can keep tombstones"
    );
    let config = parse(&format!("{STATE}{text}")).expect("tombstones have a place");
    let graph = graph(&config);
    assert!(graph.needs_tombstones(0) && graph.writes_tombstones(0));
}

#[test]
fn the_delete_edge_of_a_two_plugin_cycle_is_named_and_only_its_ends_use_tombstones() {
    // a writes out/, which b reacts to on delete; b writes in/, which a reacts to on create.
    let text = [
        plugin(
            "a",
            r#"{ bucket = "photos", prefix = "in/" }"#,
            r#""photos/out/""#,
            "max_depth = 2",
        ),
        plugin(
            "b",
            r#"{ bucket = "photos", prefix = "out/", events = ["s3:ObjectRemoved:Delete"] }"#,
            r#""photos/in/""#,
            "max_depth = 2",
        ),
    ]
    .concat();
    let err = parse(&text).expect_err("no [host] state").to_string();
    assert!(
        err.contains(
            "write loop through a delete: a writes photos/out/ → triggers b on delete → \
             b writes photos/in/ → triggers a;"
        ),
        "{err}"
    );
    assert!(
        err.contains("set [host] state = \"bucket/prefix/\" so the host can keep tombstones"),
        "{err}"
    );
    let config = parse(&format!("{STATE}{text}")).expect("allowed with state");
    let graph = graph(&config);
    // b's records are ObjectRemoved ones from a's deletes; a's come from b's puts.
    assert!(graph.needs_tombstones(1) && !graph.needs_tombstones(0));
    assert!(graph.writes_tombstones(0) && !graph.writes_tombstones(1));
    let delete_edges: Vec<(usize, usize)> = graph
        .edges()
        .iter()
        .filter(|e| e.by_delete)
        .map(|e| (e.from, e.to))
        .collect();
    assert_eq!(delete_edges, [(0, 1)]);
}

#[test]
fn a_delete_edge_off_every_cycle_needs_no_state() {
    // a and b form a cycle of creates; c reacts to deletes under b's output but writes
    // elsewhere, so no cycle goes through a delete.
    let text = [
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
            "max_depth = 2",
        ),
        plugin(
            "c",
            r#"{ bucket = "photos", prefix = "in/", events = ["s3:ObjectRemoved:*"] }"#,
            r#""thumbs/""#,
            "",
        ),
    ]
    .concat();
    let config = parse(&text).expect("no cycle through a delete");
    let graph = graph(&config);
    assert!(graph.edges().iter().any(|e| e.by_delete && e.to == 2));
    assert!((0..3).all(|i| !graph.needs_tombstones(i) && !graph.writes_tombstones(i)));
}

#[test]
fn a_cycle_through_a_delete_without_max_depth_is_a_write_loop_first() {
    let text = plugin(
        "a",
        r#"{ bucket = "photos", events = ["s3:ObjectRemoved:*"] }"#,
        r#""photos/""#,
        "",
    );
    let err = parse(&text).expect_err("a loop").to_string();
    assert!(
        err.contains("write loop: a writes photos/ → triggers a on delete;"),
        "{err}"
    );
    assert!(
        err.contains("set max_depth on every plugin of the cycle (a)"),
        "{err}"
    );
}
