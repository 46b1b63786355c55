//! The common flags and the generic command line every example binary uses.

use std::time::Duration;

use clap::Parser;
use shared::cli::{CommonArgs, HttpArgs, QUICK_SECOND};

#[derive(Parser, Debug)]
struct Flags {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    http: HttpArgs,
}

fn parse(args: &[&str]) -> Result<Flags, clap::Error> {
    Flags::try_parse_from(std::iter::once("prog").chain(args.iter().copied()))
}

#[test]
fn defaults_reproduce_the_tutorials() {
    let cli = parse(&[]).unwrap();
    assert_eq!(cli.common, CommonArgs::default());
    assert_eq!(cli.http.latency_ms, 100);
    assert_eq!(cli.http.base_url, None);
}

#[test]
fn bad_values_are_usage_errors_not_panics() {
    for bad in [
        &["--workers", "0"][..],
        &["--workers", "-1"],
        &["--workers", "many"],
        &["--scale", "0"],
        &["--scale", "-1"],
        &["--scale", "inf"],
        &["--scale", "NaN"],
        &["--base-url", "ftp://x"],
    ] {
        let err = parse(bad).expect_err(&format!("{bad:?} should be rejected"));
        assert_eq!(err.exit_code(), 2, "{bad:?}");
    }
}

#[test]
fn good_values_parse() {
    let cli = parse(&["--scale", "0.01", "--workers", "3", "--quick", "--json"]).unwrap();
    assert_eq!(cli.common.scale, 0.01);
    assert_eq!(cli.common.workers_or(2), 3);
    assert!(cli.common.quick && cli.common.json);
    let cli = parse(&["--base-url", "https://en.wikipedia.org/"]).unwrap();
    assert_eq!(
        cli.http.base_url.as_deref(),
        Some("https://en.wikipedia.org")
    );
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq)]
#[value(rename_all = "snake_case")]
enum Demo {
    /// The first section
    FirstOne,
    /// The second
    Second,
}

#[derive(clap::Args, Debug, Clone)]
struct DemoArgs {
    #[command(flatten)]
    common: CommonArgs,
}

type DemoCli = shared::cli::Cli<Demo, DemoArgs>;

#[test]
fn the_generic_command_line_names_the_crate_and_its_sections() {
    let cli =
        DemoCli::try_parse_for("examples-demo", "about", ["x", "first_one", "--quick"]).unwrap();
    assert_eq!(cli.section, Some(Demo::FirstOne));
    assert!(cli.args.common.quick);
    let all = DemoCli::try_parse_for("examples-demo", "about", ["x"]).unwrap();
    assert_eq!(all.section, None);
    let err = DemoCli::try_parse_for("examples-demo", "about", ["x", "third"]).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    let about = "What the demo is.\n\nMore about it.";
    let help = DemoCli::command_for("examples-demo", about)
        .render_long_help()
        .to_string();
    for want in [
        "examples-demo",
        "What the demo is.",
        "More about it.",
        "first_one",
        "The first section",
    ] {
        assert!(help.contains(want), "{want:?} missing from:\n{help}");
    }
    let short = DemoCli::command_for("examples-demo", about)
        .render_help()
        .to_string();
    assert!(!short.contains("More about it."), "{short}");
}

#[test]
fn a_tutorial_second_shrinks_with_scale_and_quick() {
    let mut c = CommonArgs::default();
    assert_eq!(c.tutorial_second(), 1.0);
    c.scale = 0.5;
    assert_eq!(c.tutorial_sleep(0.8), Duration::from_millis(400));
    c.quick = true;
    assert_eq!(c.tutorial_second(), 0.5 * QUICK_SECOND);
}

#[test]
fn base_url_is_a_site_or_refused_with_a_reason() {
    let http = parse(&["--base-url", "https://example.org"]).unwrap().http;
    assert_eq!(http.site().unwrap().base_url(), "https://example.org");
    let err = http.refuse_base_url("it needs /image").unwrap_err();
    assert!(format!("{err}").contains("https://example.org"));
    let http = HttpArgs::default();
    assert!(http.refuse_base_url("x").is_ok());
    let site = http.site().unwrap();
    assert_eq!(site.latency(), Some(Duration::from_millis(100)));
}
