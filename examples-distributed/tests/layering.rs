//! The crate's layering: the plumbing (launch, world, worker, wire, task, pool) uses no
//! lesson, and no lesson uses another, so each lesson reads on its own beside its tutorial.
//! Only `main.rs` and `cli.rs`, which run the lessons, may name them.

const LESSONS: [&str; 3] = ["executor", "scatter_gather", "cluster"];

const PLUMBING: [(&str, &str); 6] = [
    ("launch", include_str!("../src/launch.rs")),
    ("world", include_str!("../src/world.rs")),
    ("worker", include_str!("../src/worker.rs")),
    ("wire", include_str!("../src/wire.rs")),
    ("task", include_str!("../src/task.rs")),
    ("pool", include_str!("../src/pool.rs")),
];

const LESSON_SOURCES: [(&str, &str); 3] = [
    ("executor", include_str!("../src/executor.rs")),
    ("scatter_gather", include_str!("../src/scatter_gather.rs")),
    ("cluster", include_str!("../src/cluster.rs")),
];

/// The crate modules `source` refers to: `crate::m` paths, and the names inside
/// `use crate::{...}` groups.
fn crate_modules(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    let ident = |s: &str| {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<String>()
    };
    for (at, _) in source.match_indices("crate::") {
        let rest = &source[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            found.extend(group.split(',').map(|m| ident(m.trim())));
        } else {
            found.push(ident(rest));
        }
    }
    found
}

#[test]
fn the_scanner_sees_paths_and_groups() {
    let src = "use crate::wire::{self, X};\nuse crate::{cli, world::World};\nlet _ = crate::count(1, \"a\");";
    assert_eq!(crate_modules(src), ["wire", "cli", "world", "count"]);
}

#[test]
fn plumbing_uses_no_lesson() {
    for (file, source) in PLUMBING {
        let used = crate_modules(source);
        for lesson in LESSONS {
            assert!(
                !used.iter().any(|m| m == lesson),
                "{file}.rs uses the lesson {lesson}: {used:?}"
            );
        }
    }
}

#[test]
fn no_lesson_uses_another() {
    for (file, source) in LESSON_SOURCES {
        let used = crate_modules(source);
        for lesson in LESSONS.iter().filter(|l| **l != file) {
            assert!(
                !used.iter().any(|m| m == lesson),
                "{file}.rs uses the lesson {lesson}: {used:?}"
            );
        }
    }
}
