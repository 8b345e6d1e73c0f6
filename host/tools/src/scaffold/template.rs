//! The files `s3plug new` writes, kept as they are written in `templates/`, and [`render`],
//! which fills in their few variables.
//!
//! A placeholder is `{{key}}`, its key made of `a-z`, `0-9` and `_`. Any other `{{` is text:
//! the Rust and Python sources build their JSON with format strings such as
//! `{{"bytes":{bytes}}}`, and the templates hold them exactly as the project gets them.

/// The plugin's entry for `s3plug.toml` (`name`, `wasm`: the component, relative to it).
pub(super) const CONFIG: &str = include_str!("templates/common/s3plug.toml.tmpl");

/// The project's test file, `tests/<name>.test.toml` (`name`).
pub(super) const TEST_FILE: &str = include_str!("templates/common/test.toml.tmpl");

/// A Rust project's `Cargo.toml` (`name`, `sdk`: the guest SDK's folder).
pub(super) const RUST_CARGO: &str = include_str!("templates/rust/Cargo.toml.tmpl");

/// A Rust project's `src/lib.rs` (`name`).
pub(super) const RUST_LIB: &str = include_str!("templates/rust/lib.rs.tmpl");

/// A Rust project's `.gitignore`.
pub(super) const RUST_GITIGNORE: &str = include_str!("templates/rust/gitignore.tmpl");

/// A Python project's `app.py`.
pub(super) const PYTHON_APP: &str = include_str!("templates/python/app.py.tmpl");

/// A Python project's `.gitignore`.
pub(super) const PYTHON_GITIGNORE: &str = include_str!("templates/python/gitignore.tmpl");

/// A JavaScript project's `package.json` (`name`, `componentize_js_version`).
pub(super) const JS_PACKAGE: &str = include_str!("templates/js/package.json.tmpl");

/// A JavaScript project's `app.js`.
pub(super) const JS_APP: &str = include_str!("templates/js/app.js.tmpl");

/// A JavaScript project's `.gitignore`.
pub(super) const JS_GITIGNORE: &str = include_str!("templates/js/gitignore.tmpl");

/// Fills `template`'s placeholders: each `{{key}}` becomes the value of `key` in `vars`.
/// Values go in as they are; they are never searched for placeholders themselves.
///
/// Fails on a placeholder without a value, and on a value that no placeholder asks for:
/// either way the template and its caller disagree.
pub(super) fn render(template: &str, vars: &[(&str, &str)]) -> anyhow::Result<String> {
    let mut out = String::with_capacity(template.len());
    let mut used = vec![false; vars.len()];
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let Some(key) = placeholder(rest) else {
            // Text, not a placeholder: keep the brace and look again after it.
            out.push('{');
            rest = &rest[1..];
            continue;
        };
        let Some(index) = vars.iter().position(|(name, _)| *name == key) else {
            anyhow::bail!("the template's {{{{{key}}}}} has no value");
        };
        used[index] = true;
        out.push_str(vars[index].1);
        rest = &rest[key.len() + 4..];
    }
    out.push_str(rest);
    if let Some(((key, _), _)) = vars.iter().zip(&used).find(|(_, used)| !**used) {
        anyhow::bail!("the template has no {{{{{key}}}}} to fill");
    }
    Ok(out)
}

/// The key of the placeholder that `text` starts with, if it starts with one.
pub(super) fn placeholder(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("{{")?;
    let len = inner
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
        .unwrap_or(inner.len());
    (len > 0 && inner[len..].starts_with("}}")).then(|| &inner[..len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_once_each_in_one_pass() {
        let text = render("{{a}}-{{b_2}}-{{a}}", &[("a", "{{b_2}}"), ("b_2", "x")]).unwrap();
        assert_eq!(text, "{{b_2}}-x-{{b_2}}");
    }

    #[test]
    fn other_braces_are_text() {
        let template = r#"format!("{{\"n\":{n}}}") {{ x }} {{}} {{A}} {{{k}}} {"#;
        let expected = r#"format!("{{\"n\":{n}}}") {{ x }} {{}} {{A}} {v} {"#;
        assert_eq!(render(template, &[("k", "v")]).unwrap(), expected);
    }

    #[test]
    fn template_and_values_must_agree() {
        let missing = render("hello {{name}}", &[]).unwrap_err();
        assert!(
            missing.to_string().contains("{{name}} has no value"),
            "{missing}"
        );
        let unused = render("hello", &[("name", "x")]).unwrap_err();
        assert!(
            unused.to_string().contains("no {{name}} to fill"),
            "{unused}"
        );
    }

    #[test]
    fn a_placeholder_is_a_key_between_double_braces() {
        assert_eq!(placeholder("{{sdk}} rest"), Some("sdk"));
        assert_eq!(
            placeholder("{{componentize_js_version}}"),
            Some("componentize_js_version")
        );
        for text in [
            "{{}}",
            "{{ sdk }}",
            "{{\"bytes\"",
            "{{sdk}",
            "{sdk}}",
            "{{Sdk}}",
        ] {
            assert_eq!(placeholder(text), None, "{text}");
        }
    }
}
