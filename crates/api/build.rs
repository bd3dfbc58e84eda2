//! Generates the typed message catalogue (`Msg` and the functions of messages with
//! placeholders) from `locales/<tag>.json`; a key missing from a locale, an empty text or
//! placeholders that differ between locales fail the build. See `build/catalogue.rs`.

#[path = "build/catalogue.rs"]
mod catalogue;

use std::path::PathBuf;

fn main() -> Result<(), String> {
    println!("cargo::rerun-if-changed=build/catalogue.rs");
    let mut files = Vec::new();
    for (tag, _) in catalogue::LOCALES {
        let path = format!("locales/{tag}.json");
        println!("cargo::rerun-if-changed={path}");
        let json = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        files.push((*tag, json));
    }
    let files: Vec<(&str, &str)> = files.iter().map(|(t, j)| (*t, j.as_str())).collect();
    let messages = catalogue::parse(&files)?;
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| format!("OUT_DIR: {e}"))?);
    std::fs::write(out.join("messages.rs"), catalogue::generate(&messages))
        .map_err(|e| format!("writing messages.rs: {e}"))
}
