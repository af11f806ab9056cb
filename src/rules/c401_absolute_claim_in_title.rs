//! C401 absolute-claim-in-title: the title uses an absolute term banned by advertising law.
//!
//! What it checks: the title contains a term of the profile's `title_terms` (default: 最大, 最好,
//! 全球第一, 最低价, 第一, 最便宜, 顶级, 极品, 国家级 and their traditional forms, the usual 广告法
//! absolute terms such as 最佳, 首选, 唯一, 顶尖, 世界级, and English equivalents such as best,
//! cheapest, No.1, world-class; `priceaudit profiles` lists them). Matching is by substring; terms
//! written in ASCII match whole words only, case-insensitively. One finding per registration; the
//! message quotes every term found. `title_terms` replaces the list, `title_terms_add` extends it.
//!
//! Why the platform cares: 广告法 forbids absolute claims (极限词); the platform deducts points
//! and removes listings that use them.
//!
//! Seed: 002 备注 6 (禁止乱用极限词, 如最大、最好、全球第一、最低价).
//!
//! Example: "全球第一保温杯" → C401 quoting 全球第一 and 第一; "保温杯" passes.

use super::*;

pub const RULE: Rule = Rule {
    code: "C401",
    name: "absolute-claim-in-title",
    severity: Severity::Error,
    source: include_str!("c401_absolute_claim_in_title.rs"),
    check: Check::Registration(check),
    needs: &[Fact::TitleTerms],
    ..DEFAULTS
};

/// Does `title` contain `term`? ASCII-word terms match whole words, case-insensitively.
#[cfg(test)]
fn contains_term(title: &str, term: &str) -> bool {
    let lower = title.to_lowercase();
    contains_term_with(title, &|| lower.as_str(), term)
}

/// [`contains_term`], with the title's lowercase form from `lower` (asked only for an ASCII term,
/// so a caller can compute it once for all its terms, and only when needed).
fn contains_term_with<'t>(title: &str, lower: &dyn Fn() -> &'t str, term: &str) -> bool {
    if term.is_empty() {
        return false;
    }
    if !term.is_ascii() {
        return title.contains(term);
    }
    let t = lower();
    let w = term.to_lowercase();
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    t.match_indices(&w).any(|(i, _)| !word(t[..i].chars().next_back()) && !word(t[i + w.len()..].chars().next()))
}

fn check(cx: &Ctx) -> Vec<Finding> {
    let title = &cx.reg.title;
    let lc = std::cell::OnceCell::new();
    let lower = || lc.get_or_init(|| title.to_lowercase()).as_str();
    let found: Vec<&str> =
        cx.profile.title_terms.iter().map(String::as_str).filter(|t| contains_term_with(title, &lower, t)).collect();
    if found.is_empty() {
        return vec![];
    }
    let quoted: Vec<String> = found.iter().map(|t| format!("「{t}」")).collect();
    let msg = format!("title {:?} contains absolute term {}", cx.reg.title, quoted.join(" "));
    vec![cx.finding(String::new(), String::new(), String::new(), None, msg)]
}

#[cfg(test)]
mod tests {
    use super::contains_term;

    #[test]
    fn cjk_substring_and_ascii_words() {
        assert!(contains_term("加厚全球第一保温杯", "全球第一"));
        assert!(!contains_term("保温杯", "第一"));
        assert!(contains_term("The Best cup", "best"));
        assert!(!contains_term("bestseller cup", "best"));
        assert!(contains_term("mug No.1 in town", "No.1"));
        assert!(!contains_term("mugNo.1", "No.1"));
    }
}
