//! The walls between the runtime's layers, checked on the source.
//!
//! `oxmq/src` is one straight chain of layers, each using only those below it:
//!
//! ```text
//! vocabulary (error, options, endpoint, monitor, accept filters) <- message <- signal <- pipe <- transport <- engine
//!     <- io <- socket types <- face (Context, Socket, Poller, AsyncSocket, proxy)
//! ```
//!
//! This test reads every source file, finds the `crate::` and `super::` paths in its code (not in
//! comments), and fails when a file reaches a layer above its own, or when modules of one layer
//! import each other in a cycle. The vocabulary (the face's `Error` and `Options`, endpoint
//! parsing) is for the engine and above: message, signal, pipe and transport use none of it
//! (a transport has its own small options struct and `io::Result`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first.
const LAYERS: &[&str] = &[
    "vocabulary",
    "message",
    "signal",
    "pipe",
    "transport",
    "engine",
    "io",
    "socket types",
    "face",
];

fn rank(layer: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| *l == layer)
        .unwrap_or_else(|| panic!("unknown layer {layer}"))
}

/// The module a source file belongs to, for cycle detection, and its layer.
fn classify_file(src: &Path, file: &Path) -> Option<(String, &'static str)> {
    let rel = file.strip_prefix(src).ok()?;
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    let top = parts.first()?.as_str();
    if top == "lib" {
        return None; // the crate root only declares and re-exports
    }
    if top == "socket" {
        return Some(if parts.len() == 2 && parts[1] == "mod" {
            ("socket (face)".into(), "face")
        } else {
            ("socket types".into(), "socket types")
        });
    }
    Some((top.to_owned(), layer_of_top(top, None)))
}

/// The layer of `crate::<top>::<next>`.
fn layer_of_top(top: &str, next_is_submodule: Option<bool>) -> &'static str {
    match top {
        "error" | "options" | "endpoint" | "monitor" | "accept_filter" => "vocabulary",
        "message" | "metadata" => "message",
        "signal" => "signal",
        "pipe" => "pipe",
        "transport" => "transport",
        "engine" => "engine",
        "io" => "io",
        "socket" if next_is_submodule == Some(true) => "socket types",
        "context" | "socket" | "poller" | "async_socket" | "proxy" => "face",
        other => panic!("module {other} has no layer: add it to the layers test"),
    }
}

fn module_of(top: &str, layer: &str) -> String {
    match (top, layer) {
        ("socket", "face") => "socket (face)".into(),
        ("socket", _) => "socket types".into(),
        _ => top.to_owned(),
    }
}

/// Strips comments (line comments, including doc comments) from a line of code.
fn code_of(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

fn idents_after<'a>(code: &'a str, prefix: &str) -> Vec<Vec<&'a str>> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let preceded_by_ident = rest[..i]
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
        let after = &rest[i + prefix.len()..];
        if !preceded_by_ident {
            let path: Vec<&str> = after
                .split("::")
                .map(|seg| {
                    let end = seg
                        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .unwrap_or(seg.len());
                    &seg[..end]
                })
                .take_while(|seg| !seg.is_empty())
                .collect();
            if !path.is_empty() {
                found.push(path);
            }
        }
        rest = after;
    }
    found
}

/// Whether `dir/<name>.rs` or `dir/<name>/mod.rs` exists.
fn is_submodule(dir: &Path, name: &str) -> bool {
    dir.join(format!("{name}.rs")).is_file() || dir.join(name).join("mod.rs").is_file()
}

/// One import of a layer from a file: (file module, its layer, imported module, its layer).
type Edge = (String, &'static str, String, &'static str, String);

fn edges_of(src: &Path, file: &Path, text: &str) -> Vec<Edge> {
    let Some((module, layer)) = classify_file(src, file) else {
        return Vec::new();
    };
    let mut edges = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let code = code_of(line);
        let at = format!("{}:{}", file.display(), number + 1);
        for path in idents_after(code, "crate::") {
            let top = path[0];
            let sub = path.get(1).map(|next| is_submodule(&src.join(top), next));
            let dep_layer = layer_of_top(top, sub);
            edges.push((
                module.clone(),
                layer,
                module_of(top, dep_layer),
                dep_layer,
                at.clone(),
            ));
        }
        // `super::x` from socket/<type>.rs reaches socket/mod.rs (the face) unless x is a
        // sibling module.
        if module == "socket types" {
            let dir = file.parent().unwrap_or(src);
            for path in idents_after(code, "super::") {
                if !is_submodule(dir, path[0]) && file.parent() == Some(&src.join("socket")) {
                    edges.push((
                        module.clone(),
                        layer,
                        "socket (face)".into(),
                        "face",
                        at.clone(),
                    ));
                }
            }
        }
    }
    edges
}

fn violations(edges: &[Edge]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, layer, dep, dep_layer, at) in edges {
        let below_engine = rank(layer) > rank("vocabulary") && rank(layer) < rank("engine");
        if below_engine && *dep_layer == "vocabulary" {
            problems.push(format!(
                "{at}: {module} ({layer}) imports {dep}: only the engine and above use the vocabulary"
            ));
        }
        if rank(dep_layer) > rank(layer) {
            problems.push(format!(
                "{at}: {module} ({layer}) imports {dep} ({dep_layer}), a layer above it"
            ));
        }
        if module != dep {
            graph.entry(module.clone()).or_default().insert(dep.clone());
        }
    }
    // Cycle detection (iterative depth-first search with colours).
    let mut colour: BTreeMap<&str, u8> = BTreeMap::new();
    for start in graph.keys() {
        if colour.get(start.as_str()).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut stack: Vec<(&str, Vec<&str>)> =
            vec![(start, graph[start].iter().map(String::as_str).collect())];
        colour.insert(start, 1);
        while let Some((node, pending)) = stack.last_mut() {
            let node: &str = node;
            match pending.pop() {
                Some(next) => match colour.get(next).copied().unwrap_or(0) {
                    0 => {
                        colour.insert(next, 1);
                        let deps = graph
                            .get(next)
                            .map(|d| d.iter().map(String::as_str).collect())
                            .unwrap_or_default();
                        stack.push((next, deps));
                    }
                    1 => {
                        let cycle: Vec<&str> = stack.iter().map(|(n, _)| *n).collect();
                        problems.push(format!("import cycle: {} -> {next}", cycle.join(" -> ")));
                    }
                    _ => {}
                },
                None => {
                    colour.insert(node, 2);
                    stack.pop();
                }
            }
        }
    }
    problems
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_imports_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "found only {} source files", files.len());
    let mut edges = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read source");
        edges.extend(edges_of(&src, file, &text));
    }
    assert!(edges.len() > 50, "found only {} imports", edges.len());
    let problems = violations(&edges);
    assert!(
        problems.is_empty(),
        "layer violations:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_catches_a_climbing_import_and_a_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    // A pipe that reaches the I/O thread, written as real code.
    let edges = edges_of(
        &src,
        &src.join("pipe/peer.rs"),
        "use crate::io::link::SocketLink; // a comment naming crate::socket::Socket is fine\n",
    );
    let problems = violations(&edges);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("pipe (pipe) imports io (io)"),
        "{problems:?}"
    );
    // A socket type that reaches into the face through `super`.
    let edges = edges_of(&src, &src.join("socket/push.rs"), "use super::Socket;\n");
    assert_eq!(violations(&edges).len(), 1);
    // A transport that reaches for the face's error type.
    let edges = edges_of(
        &src,
        &src.join("transport/tcp.rs"),
        "use crate::error::Result;\n",
    );
    let problems = violations(&edges);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("only the engine and above"),
        "{problems:?}"
    );
    // Two vocabulary modules importing each other.
    let mut edges = edges_of(&src, &src.join("options.rs"), "use crate::endpoint::X;\n");
    edges.extend(edges_of(
        &src,
        &src.join("endpoint.rs"),
        "use crate::options::Y;\n",
    ));
    let problems = violations(&edges);
    assert!(
        problems.iter().any(|p| p.contains("import cycle")),
        "{problems:?}"
    );
}
