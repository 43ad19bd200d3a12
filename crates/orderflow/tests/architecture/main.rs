//! The layering rules of ARCHITECTURE.md, checked against `cargo metadata` on every test run.
//!
//! - Domain crates (`*-domain`) and `contracts`, and `api` (the wire types servers and clients
//!   share), depend on no I/O crate, directly or through another crate of the workspace.
//! - A service crate (`*-service`, and `verify`, which stands on the ports like one) depends on
//!   no adapter, in normal or dev dependencies.
//! - An adapter depends on no service, in normal or dev dependencies.
//! - A crate that talks to a database, broker, cache or mail driver is a declared adapter (or the
//!   binary, or test support), so a new adapter cannot slip past the rules above.
//! - No dependency cycles through dev-dependencies.
//!
//! And one rule read from the source: domain crates and `contracts` read no clock and draw no
//! random number outside their tests (times and ids arrive in commands).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

mod operations;
mod purity;

/// Crates that do I/O: none of them may be reachable from a domain crate.
const IO_CRATES: &[&str] = &[
    "tokio",
    "sqlx",
    "rusqlite",
    "lapin",
    "redis",
    "reqwest",
    "axum",
    "hyper",
    "tower",
    "tower-http",
    "lettre",
    "object_store",
    "rdkafka",
];
/// Database, broker, cache and mail drivers: only adapters (and the binary, and tests) use them.
const DRIVERS: &[&str] = &[
    "sqlx",
    "rusqlite",
    "lapin",
    "redis",
    "lettre",
    "object_store",
    "rdkafka",
];
/// The adapters: each implements ports for one technology.
const ADAPTERS: &[&str] = &[
    "store-sqlite",
    "store-postgres",
    // Below the two SQL adapters, what they share; sqlx's database-agnostic API only.
    "store-sql",
    "transport-amqp",
    "transport-kafka",
    "cache-redis",
    "notification-smtp",
    "blob-object-store",
];
/// Not domain crates, but as free of I/O: the public API's wire types.
const PURE: &[&str] = &["api"];
/// Crates allowed to wire adapters to services, or to reach a driver for test setup.
const COMPOSITION: &[&str] = &["orderflow", "testkit"];

/// One workspace crate and what it depends on, by dependency kind.
#[derive(Debug, Default)]
struct Crate {
    normal: BTreeSet<String>,
    dev: BTreeSet<String>,
}

impl Crate {
    fn all(&self) -> impl Iterator<Item = &String> {
        self.normal.iter().chain(&self.dev)
    }
}

type Workspace = BTreeMap<String, Crate>;

fn is_domain(name: &str) -> bool {
    name.ends_with("-domain") || name == "contracts"
}

/// Crates that stand on the ports like a service without being one: the invariant checks.
const PORT_CLIENTS: &[&str] = &["verify"];

/// What a crate that must do no I/O is called in a report; `None` for the others.
fn pure_kind(name: &str) -> Option<&'static str> {
    if is_domain(name) {
        Some("domain crate")
    } else if PURE.contains(&name) {
        Some("wire-types crate")
    } else {
        None
    }
}

fn is_service(name: &str) -> bool {
    name.ends_with("-service") || PORT_CLIENTS.contains(&name)
}

fn is_adapter(name: &str) -> bool {
    ADAPTERS.contains(&name)
}

fn workspace_from_metadata(metadata: &Value) -> Workspace {
    let mut workspace = Workspace::new();
    for package in metadata["packages"].as_array().expect("a package list") {
        let name = package["name"].as_str().expect("a package name").to_owned();
        let mut krate = Crate::default();
        for dependency in package["dependencies"].as_array().expect("dependencies") {
            let dependency_name = dependency["name"].as_str().expect("a dependency name");
            match dependency["kind"].as_str() {
                None => krate.normal.insert(dependency_name.to_owned()),
                Some("dev") => krate.dev.insert(dependency_name.to_owned()),
                Some(_) => false,
            };
        }
        workspace.insert(name, krate);
    }
    workspace
}

/// Every rule broken in `workspace`, one sentence each.
fn violations(workspace: &Workspace) -> Vec<String> {
    let mut found = Vec::new();
    for (name, krate) in workspace {
        if let Some(kind) = pure_kind(name) {
            for reached in normal_closure(workspace, name) {
                let direct = &workspace[&reached].normal;
                for io in IO_CRATES.iter().filter(|io| direct.contains(**io)) {
                    found.push(format!(
                        "{kind} {name} reaches I/O crate {io} via {reached}"
                    ));
                }
            }
        }
        for dependency in krate.all() {
            if is_service(name) && is_adapter(dependency) {
                found.push(format!("service {name} depends on adapter {dependency}"));
            }
            if is_adapter(name) && is_service(dependency) {
                found.push(format!("adapter {name} depends on service {dependency}"));
            }
        }
        let allowed_driver = is_adapter(name) || COMPOSITION.contains(&name.as_str());
        for driver in DRIVERS
            .iter()
            .filter(|driver| krate.normal.contains(**driver))
        {
            if !allowed_driver {
                found.push(format!(
                    "{name} uses driver {driver} but is not a declared adapter"
                ));
            }
        }
    }
    found.extend(cycles(workspace));
    found
}

/// The workspace crates reachable from `start` through normal dependencies, `start` included.
fn normal_closure(workspace: &Workspace, start: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![start.to_owned()];
    while let Some(name) = stack.pop() {
        if workspace.contains_key(&name) && seen.insert(name.clone()) {
            stack.extend(workspace[&name].normal.iter().cloned());
        }
    }
    seen
}

/// A cycle through any kind of dependency between workspace crates, e.g. a crate whose test
/// helper depends back on it.
fn cycles(workspace: &Workspace) -> Vec<String> {
    let mut found = Vec::new();
    for (name, krate) in workspace {
        for dependency in krate
            .all()
            .filter(|d| workspace.contains_key(*d) && *d != name)
        {
            if reaches(workspace, dependency, name) {
                found.push(format!(
                    "dependency cycle: {name} -> {dependency} -> … -> {name}"
                ));
            }
        }
    }
    found
}

fn reaches(workspace: &Workspace, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_owned()];
    while let Some(name) = stack.pop() {
        if name == to {
            return true;
        }
        if let Some(krate) = workspace.get(&name)
            && seen.insert(name.clone())
        {
            stack.extend(krate.all().filter(|d| workspace.contains_key(*d)).cloned());
        }
    }
    false
}

fn this_workspace() -> Workspace {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata's JSON");
    workspace_from_metadata(&metadata)
}

#[test]
fn the_workspace_keeps_its_layering_rules() {
    let workspace = this_workspace();
    for expected in [
        "contracts",
        "order-domain",
        "store",
        "store-sqlite",
        "order-service",
    ] {
        assert!(
            workspace.contains_key(expected),
            "{expected} is not in the workspace"
        );
    }
    let found = violations(&workspace);
    assert!(
        found.is_empty(),
        "layering rules broken:\n{}",
        found.join("\n")
    );
}

#[test]
fn a_service_that_depends_on_an_adapter_is_reported() {
    let mut workspace = this_workspace();
    let service = workspace
        .get_mut("order-service")
        .expect("the order service");
    service.dev.insert("store-sqlite".to_owned());
    assert_eq!(
        violations(&workspace),
        ["service order-service depends on adapter store-sqlite"]
    );
}

#[test]
fn the_invariant_checks_depending_on_an_adapter_are_reported() {
    let mut workspace = this_workspace();
    let checks = workspace.get_mut("verify").expect("the invariant checks");
    checks.normal.insert("store-postgres".to_owned());
    assert_eq!(
        violations(&workspace),
        ["service verify depends on adapter store-postgres"]
    );
}

#[test]
fn an_adapter_that_depends_on_a_service_is_reported_with_the_cycle_it_makes() {
    let mut workspace = this_workspace();
    let adapter = workspace
        .get_mut("store-postgres")
        .expect("the PostgreSQL adapter");
    adapter.normal.insert("payment-service".to_owned());
    let found = violations(&workspace);
    assert!(
        found.contains(&"adapter store-postgres depends on service payment-service".to_owned()),
        "{found:?}"
    );
}

#[test]
fn a_domain_crate_that_reaches_io_through_another_crate_is_reported() {
    let mut workspace = this_workspace();
    let domain = workspace
        .get_mut("payment-domain")
        .expect("the payment domain");
    domain.normal.insert("store".to_owned());
    let store = workspace.get_mut("store").expect("the store ports");
    store.normal.insert("tokio".to_owned());
    let found = violations(&workspace);
    assert!(
        found.contains(&"domain crate payment-domain reaches I/O crate tokio via store".to_owned()),
        "{found:?}"
    );
}

#[test]
fn the_api_s_wire_types_that_reach_io_through_the_client_are_reported() {
    let mut workspace = this_workspace();
    let api = workspace.get_mut("api").expect("the API's wire types");
    api.normal.insert("api-client".to_owned());
    let found = violations(&workspace);
    assert!(
        found.contains(&"wire-types crate api reaches I/O crate reqwest via api-client".to_owned()),
        "{found:?}"
    );
}

#[test]
fn a_test_helper_that_depends_back_on_its_user_is_a_cycle() {
    let mut workspace = this_workspace();
    let testkit = workspace.get_mut("testkit").expect("the testkit");
    testkit.normal.insert("transport-amqp".to_owned());
    let found = violations(&workspace);
    assert!(
        found
            .iter()
            .any(|violation| violation.starts_with("dependency cycle: testkit -> transport-amqp")),
        "{found:?}"
    );
}

#[test]
fn an_undeclared_crate_that_uses_a_driver_is_reported() {
    let mut workspace = this_workspace();
    let gateway = workspace.get_mut("gateway").expect("the gateway");
    gateway.normal.insert("redis".to_owned());
    assert_eq!(
        violations(&workspace),
        ["gateway uses driver redis but is not a declared adapter"]
    );
}
