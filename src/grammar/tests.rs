//! Parser behaviour users rely on, plus a property test that no input panics.

use proptest::prelude::*;

use super::*;
use crate::app::features::{COMMANDS, parse_line};

fn ok(line: &str) -> Parsed {
    parse_line(line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn err(line: &str) -> String {
    parse_line(line).expect_err(line).to_string()
}

#[test]
fn create_is_the_default_subcommand() {
    let p = ok("/delete-request city-a/run-42 reason:duplicate-run ran twice by mistake");
    assert_eq!(p.sub.name, "create");
    assert_eq!(p.get("target"), Some("city-a/run-42"));
    assert_eq!(p.get("reason"), Some("duplicate-run"));
    assert_eq!(p.get("justification"), Some("ran twice by mistake"));
    let q = ok(
        "/delete-request create target:city-a/x reason:other justification:\"needs to go\" sensitivity:HIGH",
    );
    assert_eq!(q.get("target"), Some("city-a/x"));
    assert_eq!(q.get("justification"), Some("needs to go"));
    assert_eq!(q.get("sensitivity"), Some("high"));
}

#[test]
fn quotes_keep_spaces_and_colons() {
    let p = ok("/delete-request “a:b c” reason:other “why not”");
    assert_eq!(p.get("target"), Some("a:b c"));
    assert_eq!(p.get("justification"), Some("why not"));
    assert!(err("/delete-request x reason:other \"unclosed").contains("never closed"));
}

#[test]
fn addresses_are_values_not_keys() {
    let p = ok("role grant qa slack:U024BE7LH");
    assert_eq!(p.get("user"), Some("slack:U024BE7LH"));
    assert_eq!(p.get("role"), Some("qa"));
}

#[test]
fn errors_name_the_problem_and_show_usage() {
    let e = err("/delete-request city-a/x justification");
    assert!(
        e.contains("missing `reason`") && e.contains("Usage:\n/delete-request [create]"),
        "{e}"
    );
    let e = err("/delete-request approve");
    assert!(e.contains("missing `id`"), "{e}");
    let e = err("/delete-request x reasn:other y");
    assert!(
        e.contains("unknown key `reasn`") && e.contains("did you mean `reason`"),
        "{e}"
    );
    let e = err("/delete-request x reason:typo y");
    assert!(
        e.contains("`typo` is not a valid reason") && e.contains("incorrect-input"),
        "{e}"
    );
    let e = err("/delete-requets approve DR-1");
    assert!(
        e.contains("unknown command") && e.contains("delete-request"),
        "{e}"
    );
    let e = err("/role grnt qa console:x");
    assert!(
        e.contains("unknown subcommand `grnt`") && e.contains("did you mean `grant`"),
        "{e}"
    );
    let e = err("/role");
    assert!(e.contains("needs a subcommand"), "{e}");
    let e = err("/delete-request approve DR-1 DR-2");
    assert!(e.contains("unexpected `DR-2`"), "{e}");
    let e = err("/delete-request object DR-1 reason:a reason:b");
    assert!(e.contains("given twice"), "{e}");
    let e = err("/delete-request object DR-1 reason:");
    assert!(e.contains("has no value"), "{e}");
}

#[test]
fn words_after_a_key_are_taken_for_an_unquoted_value() {
    let e = err("/deploy portal-prod ref:v2 reason:bad words here");
    assert!(
        e.starts_with("`reason:` has spaces in its value: quote it, reason:\"bad words here\""),
        "{e}"
    );
    // a default subcommand goes unsaid where no key is to blame
    let e = err("/deploy portal-prod other ref:v2");
    assert!(
        e.starts_with("unexpected `other`: `/deploy` does not take that many values"),
        "{e}"
    );
}

#[test]
fn help_lists_every_command() {
    let usage: Vec<String> = COMMANDS.iter().map(|c| c.usage()).collect();
    let all = usage.join("\n");
    assert!(all.contains("/delete-request approve <DR-n>"), "{all}");
    assert!(all.contains("/role grant <role> <user>"), "{all}");
    assert_eq!(
        ok("/help delete-request").get("command"),
        Some("delete-request")
    );
    assert!(ok("/help").get("command").is_none());
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics_and_errors_explain(line in ".{0,200}") {
        if let Err(e) = parse_line(&line) {
            prop_assert!(!e.message.trim().is_empty());
            prop_assert!(!e.usage.trim().is_empty());
        }
    }

    #[test]
    fn arbitrary_arguments_never_panic(
        cmd in prop::sample::select(vec!["delete-request", "role", "help"]),
        words in prop::collection::vec("[a-z:\"“” -]{0,12}", 0..8),
    ) {
        let text = words.join(" ");
        if let Err(e) = parse(&COMMANDS, cmd, &text) {
            prop_assert!(!e.message.trim().is_empty());
        }
    }
}

#[test]
fn a_misspelled_subcommand_is_never_run_as_the_default_ones_argument() {
    // `objet` is not filed as a deletion request for the target `objet`
    let e = parse_line("/delete-request objet DR-2 reason:other").expect_err("refused");
    assert!(e.message.contains("did you mean `object`?"), "{e}");
    assert_eq!(
        e.usage, "/delete-request object <DR-n> reason:…",
        "one usage line, of the subcommand meant"
    );
    let e = parse_line("/delete-request creat x reason:other why").expect_err("refused");
    assert!(e.message.contains("did you mean `create`?"), "{e}");
    // quoted, it is a value
    let p = ok("/delete-request \"objet\" reason:other it is wrong");
    assert_eq!(p.sub.name, "create");
    assert_eq!(p.get("target"), Some("objet"));
    // far from every subcommand: the default subcommand's argument
    assert_eq!(
        ok("/delete-request city-a/run-42 reason:other x").sub.name,
        "create"
    );
    // a gate named in capitals is still the gate, not a subcommand
    let p = ok("/signoff QA");
    assert_eq!((p.sub.name, p.get("gate")), ("sign", Some("QA")));
}

#[test]
fn an_unknown_command_shows_how_to_get_help_not_every_usage_line() {
    let e = parse_line("/delete-requets approve DR-1").expect_err("refused");
    assert!(e.message.contains("did you mean `delete-request`?"), "{e}");
    assert_eq!(e.usage, "/help [<command>] [<subcommand>]");
    let e = parse_line("/role grnt qa console:x").expect_err("refused");
    assert_eq!(e.usage, "/role grant <role> <user>");
}
