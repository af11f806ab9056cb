//! Issue 18: a rule is the one place that knows itself. Outside `src/rules/` (the rules and
//! their registry) and `src/profile/` (the built-in profiles' data), no code line names a
//! specific rule: `verdict`, `summary`, `explain`, the facts stage and the outputs iterate the
//! registry. (Comment lines may cite rules; display strings are built from a rule's metadata.)

mod common;

use std::path::Path;

fn names_a_rule(line: &str) -> Option<String> {
    let b = line.as_bytes();
    for i in 0..b.len().saturating_sub(3) {
        let prefix = matches!(b[i], b'P' | b'S' | b'E' | b'C' | b'K' | b'D' | b'M');
        let before = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        let after = b.get(i + 1 + digits).is_none_or(|c| !(c.is_ascii_alphanumeric() || *c == b'_'));
        if prefix && before && digits == 3 && after {
            let code = &line[i..i + 4];
            if priceaudit::rules::by_code(code).is_some() {
                return Some(code.to_string());
            }
        }
    }
    None
}

fn walk(dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            if !p.ends_with("rules") && !p.ends_with("profile") {
                walk(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            for (n, line) in std::fs::read_to_string(&p).unwrap().lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                if let Some(code) = names_a_rule(line) {
                    out.push(format!("{}:{}: {code}: {}", p.display(), n + 1, line.trim()));
                }
            }
        }
    }
}

#[test]
fn no_code_outside_the_rules_names_a_rule() {
    let mut hits = Vec::new();
    walk(Path::new("src"), &mut hits);
    assert!(hits.is_empty(), "lines naming a rule outside src/rules and src/profile:\n{}", hits.join("\n"));
}

#[test]
fn the_check_sees_a_rule_name() {
    assert_eq!(names_a_rule(r#"if p.runs("P101") {"#), Some("P101".into()));
    assert_eq!(names_a_rule("let x = TP1012;"), None);
}
