//! The rule read from the source: domain crates and `contracts` read no clock and draw no
//! random number outside their tests (times and ids arrive in commands).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::{is_domain, this_workspace};

/// Calls that read a clock or draw a random number (or an id made from either).
const IMPURE_CALLS: &[&str] = &[
    "now_utc(",
    "now_local(",
    "SystemTime::now",
    "Instant::now",
    "now_v1(",
    "now_v6(",
    "now_v7(",
    "new_v4(",
    "new_v7(",
    "rand::",
    "getrandom",
];

/// A crate's source files by path under `src`, as text.
pub(crate) fn source_files(src: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut folders = vec![src.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("read a source folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                let name = path.strip_prefix(src).expect("under src");
                let text = std::fs::read_to_string(&path).expect("read a source file");
                files.insert(name.display().to_string(), text);
            }
        }
    }
    files
}

/// Where `files` read a clock or draw a random number outside their tests: modules declared
/// under `#[cfg(test)]` are skipped, and every file is read up to its first `#[cfg(test)]`.
fn impure_calls(krate: &str, files: &BTreeMap<String, String>) -> Vec<String> {
    let test_modules: BTreeSet<String> = files
        .values()
        .flat_map(|text| {
            let lines: Vec<&str> = text.lines().map(str::trim).collect();
            lines
                .windows(2)
                .filter(|pair| pair[0] == "#[cfg(test)]")
                .filter_map(|pair| pair[1].strip_prefix("mod ")?.strip_suffix(';'))
                .map(|module| format!("{module}.rs"))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut found = Vec::new();
    for (path, text) in files {
        let file_name = Path::new(path).file_name().and_then(|name| name.to_str());
        if file_name.is_some_and(|name| test_modules.contains(name)) {
            continue;
        }
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (number, line) in code.lines().enumerate() {
            for call in IMPURE_CALLS.iter().filter(|call| line.contains(**call)) {
                found.push(format!("{krate}/src/{path}:{} calls {call}", number + 1));
            }
        }
    }
    found
}

#[test]
fn domain_crates_read_no_clock_and_draw_no_random_number() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let domains: Vec<String> = this_workspace()
        .into_keys()
        .filter(|name| is_domain(name))
        .collect();
    assert!(domains.contains(&"contracts".to_owned()), "{domains:?}");
    let found: Vec<String> = domains
        .iter()
        .flat_map(|name| impure_calls(name, &source_files(&crates.join(name).join("src"))))
        .collect();
    assert!(
        found.is_empty(),
        "domain code reads a clock or draws a random number:\n{}",
        found.join("\n")
    );
}

#[test]
fn a_clock_read_in_domain_code_is_reported_and_one_in_its_tests_is_not() {
    let files = BTreeMap::from([
        (
            "lib.rs".to_owned(),
            "mod order;\n#[cfg(test)]\nmod order_tests;\n".to_owned(),
        ),
        (
            "order.rs".to_owned(),
            "fn place() {\n    let at = OffsetDateTime::now_utc();\n}\n\
             #[cfg(test)]\nmod tests {\n    fn id() { Uuid::now_v7(); }\n}\n"
                .to_owned(),
        ),
        (
            "order_tests.rs".to_owned(),
            "fn id() { Uuid::new_v4(); }\n".to_owned(),
        ),
    ]);
    assert_eq!(
        impure_calls("order-domain", &files),
        ["order-domain/src/order.rs:2 calls now_utc("]
    );
}
