//! Reads the message catalogue (`crates/api/locales/<tag>.json`, one flat object of
//! `"Key": "text"` per locale), checks it and writes the Rust code `src/i18n.rs` includes.
//!
//! Used by `build.rs`, so a bad catalogue fails the build, and by the unit tests in
//! `src/i18n.rs`, so every check is shown to refuse what it must. Standard library and
//! `serde_json` only: it runs before the crate is compiled.

use std::fmt::Write as _;

/// The supported locales: file stem under `locales/` and the `Locale` variant it fills.
/// The first one defines the order of the keys.
pub const LOCALES: &[(&str, &str)] = &[("zh-CN", "ZhCn"), ("en", "En")];

/// One message: its key, its text per locale (in [`LOCALES`] order) and its placeholders
/// (sorted, the same in every locale).
#[derive(Debug, PartialEq, Eq)]
pub struct Message {
    pub key: String,
    pub texts: Vec<String>,
    pub placeholders: Vec<String>,
}

/// Parses and checks the catalogue from `(file stem, JSON text)` pairs given in [`LOCALES`]
/// order. Every key must be in every locale, non-empty, a `PascalCase` name, and use the
/// same `{placeholder}`s in every locale.
pub fn parse(files: &[(&str, &str)]) -> Result<Vec<Message>, String> {
    let mut tables = Vec::with_capacity(files.len());
    for (tag, json) in files {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| format!("{tag}.json: {e}"))?;
        let serde_json::Value::Object(object) = value else {
            return Err(format!(
                "{tag}.json: must be one JSON object of \"Key\": \"text\""
            ));
        };
        let mut table = Vec::with_capacity(object.len());
        for (key, text) in object {
            let serde_json::Value::String(text) = text else {
                return Err(format!("{tag}.json: {key}: the text must be a string"));
            };
            table.push((key, text));
        }
        tables.push((*tag, table));
    }
    let Some(((first_tag, first), others)) = tables.split_first() else {
        return Err("no locale files".to_owned());
    };
    for (tag, table) in others {
        for (key, _) in table {
            if !first.iter().any(|(k, _)| k == key) {
                return Err(format!(
                    "{key} is in {tag}.json but missing from {first_tag}.json"
                ));
            }
        }
    }
    let mut messages = Vec::with_capacity(first.len());
    for (key, _) in first {
        if !is_pascal_case(key) {
            return Err(format!(
                "{first_tag}.json: key {key:?} is not a PascalCase name"
            ));
        }
        let mut texts = Vec::with_capacity(tables.len());
        let mut placeholders: Option<(&str, Vec<String>)> = None;
        for (tag, table) in &tables {
            let Some((_, text)) = table.iter().find(|(k, _)| k == key) else {
                return Err(format!(
                    "{key} is in {first_tag}.json but missing from {tag}.json"
                ));
            };
            if text.trim().is_empty() {
                return Err(format!("{tag}.json: {key}: the text is empty"));
            }
            let found = placeholders_of(text).map_err(|e| format!("{tag}.json: {key}: {e}"))?;
            match &placeholders {
                Some((seen_in, expected)) if *expected != found => {
                    return Err(format!(
                        "{key}: placeholders {found:?} in {tag}.json differ from {expected:?} \
                         in {seen_in}.json"
                    ));
                }
                Some(_) => {}
                None => placeholders = Some((tag, found)),
            }
            texts.push(text.clone());
        }
        messages.push(Message {
            key: key.clone(),
            texts,
            placeholders: placeholders.map(|(_, p)| p).unwrap_or_default(),
        });
    }
    Ok(messages)
}

fn is_pascal_case(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_uppercase())
        && key.chars().all(|c| c.is_ascii_alphanumeric())
}

/// The `{name}` placeholders of `text`, sorted and deduplicated. A name is a `snake_case`
/// word other than `locale`; any other brace is refused (no escapes: texts need none).
pub fn placeholders_of(text: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        if rest[i..].starts_with('}') {
            return Err(format!("unmatched '}}' in {text:?}"));
        }
        let after = &rest[i + 1..];
        let Some(end) = after.find('}') else {
            return Err(format!("unclosed '{{' in {text:?}"));
        };
        let name = &after[..end];
        let snake = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !snake || name == "locale" {
            return Err(format!(
                "placeholder {{{name}}} must be a snake_case name other than `locale`"
            ));
        }
        names.push(name.to_owned());
        rest = &after[end + 1..];
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// The Rust code for `messages`: the `Msg` enum (messages without placeholders) with
/// `ALL`, `key` and `text`, one function per message with placeholders (`TransferMinimum`
/// becomes `transfer_minimum(min, locale)`, arguments in alphabetical order), and
/// `TEMPLATES` listing the latter.
pub fn generate(messages: &[Message]) -> String {
    let (plain, templates): (Vec<&Message>, Vec<&Message>) =
        messages.iter().partition(|m| m.placeholders.is_empty());
    let mut out = String::from(
        "// @generated by crates/api/build.rs from crates/api/locales/*.json: edit those.\n\n",
    );
    out.push_str(
        "/// Every user-visible message without placeholders, one variant per key of \
         `crates/api/locales/*.json`.\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq)]\npub enum Msg {\n",
    );
    for m in &plain {
        push_doc(&mut out, "    ", m);
        let _ = writeln!(out, "    {},", m.key);
    }
    out.push_str("}\n\nimpl Msg {\n    /// Every message, in catalogue order.\n    pub const ALL: &'static [Msg] = &[\n");
    for m in &plain {
        let _ = writeln!(out, "        Msg::{},", m.key);
    }
    out.push_str("    ];\n\n    /// The message's key in the locale files.\n    pub fn key(self) -> &'static str {\n        match self {\n");
    for m in &plain {
        let _ = writeln!(out, "            Msg::{0} => {0:?},", m.key);
    }
    out.push_str("        }\n    }\n\n    /// The message in `locale`: the catalogue's exact text.\n    pub fn text(self, locale: Locale) -> &'static str {\n        match locale {\n");
    for (i, (_, variant)) in LOCALES.iter().enumerate() {
        let _ = writeln!(out, "            Locale::{variant} => match self {{");
        for m in &plain {
            let _ = writeln!(out, "                Msg::{} => {:?},", m.key, m.texts[i]);
        }
        out.push_str("            },\n");
    }
    out.push_str("        }\n    }\n}\n");
    for m in &templates {
        out.push('\n');
        push_doc(&mut out, "", m);
        let args: String = m
            .placeholders
            .iter()
            .map(|p| format!("{p}: impl ::std::fmt::Display, "))
            .collect();
        let _ = writeln!(
            out,
            "pub fn {}({args}locale: Locale) -> String {{\n    match locale {{",
            snake_case(&m.key)
        );
        for (i, (_, variant)) in LOCALES.iter().enumerate() {
            let _ = writeln!(
                out,
                "        Locale::{variant} => format!({:?}),",
                m.texts[i]
            );
        }
        out.push_str("    }\n}\n");
    }
    out.push_str(
        "\n/// The keys of the messages with placeholders, with their placeholders.\n\
         pub const TEMPLATES: &[(&str, &[&str])] = &[\n",
    );
    for m in &templates {
        let _ = writeln!(out, "    ({:?}, &{:?}),", m.key, m.placeholders);
    }
    out.push_str("];\n");
    out
}

fn push_doc(out: &mut String, indent: &str, m: &Message) {
    for (i, (tag, _)) in LOCALES.iter().enumerate() {
        if i > 0 {
            let _ = writeln!(out, "{indent}///");
        }
        let _ = writeln!(out, "{indent}/// {tag}: {}", markdown_escaped(&m.texts[i]));
    }
}

/// `text` with Markdown's special characters escaped, so rustdoc shows it verbatim.
fn markdown_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            escaped.push(' ');
            continue;
        }
        if "\\`*_[]<>#|~&".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// `MintLimitExceeded` → `mint_limit_exceeded`.
pub fn snake_case(key: &str) -> String {
    let mut snake = String::with_capacity(key.len() + 4);
    for (i, c) in key.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    snake
}
