//! C401 absolute-claim-in-title: the title uses an absolute term banned by advertising law.
//!
//! What it checks: the title contains a term of the profile's `title_terms` (default: 最大, 最好,
//! 全球第一, 最低价, 第一, 最便宜, 顶级, 极品, 国家级 and their traditional forms, the usual 广告法
//! absolute terms such as 最佳, 首选, 唯一, 顶尖, 世界级, and English equivalents such as best,
//! cheapest, No.1, world-class; `priceaudit profiles` lists them). Matching is by substring; terms
//! written in ASCII match whole words only, ignoring ASCII case. One finding per registration; the
//! message quotes every term found. `title_terms` replaces the list, `title_terms_add` extends it.
//!
//! Why the platform cares: 广告法 forbids absolute claims (极限词); the platform deducts points
//! and removes listings that use them.
//!
//! Seed: 002 备注 6 (禁止乱用极限词, 如最大、最好、全球第一、最低价).
//!
//! Example: "全球第一保温杯" → C401 quoting 全球第一 and 第一; "保温杯" passes.

use super::*;
use aho_corasick::AhoCorasick;

pub const RULE: Rule = Rule {
    code: "C401",
    name: "absolute-claim-in-title",
    severity: Severity::Error,
    source: include_str!("c401_absolute_claim_in_title.rs"),
    check: Check::Registration(check),
    needs: &[Fact::TitleTerms],
    ..DEFAULTS
};

/// A profile's `title_terms`, with what finds them all in one pass over a title: the terms with
/// a character beyond ASCII as substrings, as written; the ASCII ones ignoring ASCII case, kept
/// where they are whole words.
#[derive(Clone)]
pub struct TitleTerms {
    terms: Vec<String>,
    /// The non-ASCII terms, and each one's place in `terms`.
    substrings: (AhoCorasick, Vec<usize>),
    /// The ASCII terms, and each one's place in `terms`.
    words: (AhoCorasick, Vec<usize>),
}

impl TitleTerms {
    pub fn new(terms: Vec<String>) -> TitleTerms {
        let part = |ascii: bool, fold: bool| {
            let at: Vec<usize> =
                (0..terms.len()).filter(|&i| !terms[i].is_empty() && terms[i].is_ascii() == ascii).collect();
            let ac = AhoCorasick::builder()
                .ascii_case_insensitive(fold)
                .build(at.iter().map(|&i| &terms[i]))
                .expect("a few short terms make a small automaton");
            (ac, at)
        };
        TitleTerms { substrings: part(false, false), words: part(true, true), terms }
    }

    /// The terms, as the profile lists them.
    pub fn list(&self) -> &[String] {
        &self.terms
    }

    /// The list with `more` added at its end.
    pub fn with(&self, more: Vec<String>) -> TitleTerms {
        TitleTerms::new(self.terms.iter().cloned().chain(more).collect())
    }

    /// The terms `title` contains, in list order (each once).
    fn found(&self, title: &str) -> Vec<&str> {
        let mut hit = vec![false; self.terms.len()];
        for m in self.substrings.0.find_overlapping_iter(title) {
            hit[self.substrings.1[m.pattern().as_usize()]] = true;
        }
        let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        for m in self.words.0.find_overlapping_iter(title) {
            if !word(title[..m.start()].chars().next_back()) && !word(title[m.end()..].chars().next()) {
                hit[self.words.1[m.pattern().as_usize()]] = true;
            }
        }
        self.terms.iter().zip(hit).filter(|(_, h)| *h).map(|(t, _)| t.as_str()).collect()
    }
}

impl PartialEq for TitleTerms {
    fn eq(&self, other: &TitleTerms) -> bool {
        self.terms == other.terms
    }
}

impl std::fmt::Debug for TitleTerms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.terms.fmt(f)
    }
}

fn check(cx: &Ctx) -> Vec<Finding> {
    let found = cx.profile.title_terms.found(&cx.reg.title);
    if found.is_empty() {
        return vec![];
    }
    let quoted: Vec<String> = found.iter().map(|t| format!("「{t}」")).collect();
    let msg = format!("title {:?} contains absolute term {}", cx.reg.title, quoted.join(" "));
    vec![cx.finding(String::new(), String::new(), String::new(), None, msg)]
}

#[cfg(test)]
mod tests {
    use super::TitleTerms;

    fn found(title: &str, terms: &[&str]) -> Vec<String> {
        let t = TitleTerms::new(terms.iter().map(|s| s.to_string()).collect());
        t.found(title).into_iter().map(String::from).collect()
    }

    fn contains_term(title: &str, term: &str) -> bool {
        !found(title, &[term]).is_empty()
    }

    #[test]
    fn cjk_substring_and_ascii_words() {
        assert!(contains_term("加厚全球第一保温杯", "全球第一"));
        assert!(!contains_term("保温杯", "第一"));
        assert!(contains_term("The Best cup", "best"));
        assert!(contains_term("THE BEST CUP", "Best"));
        assert!(!contains_term("bestseller cup", "best"));
        assert!(!contains_term("the bestbest", "best"));
        assert!(contains_term("bestseller, best cup", "best"));
        assert!(contains_term("mug No.1 in town", "No.1"));
        assert!(!contains_term("mugNo.1", "No.1"));
        assert!(contains_term("保温杯best", "best"), "a CJK character is no word character");
        assert!(!contains_term("保温杯", ""), "an empty term matches nothing");
        // a term beyond ASCII is matched as written (no case folding)
        assert!(contains_term("TOP1排名 cup", "TOP1排名"));
        assert!(!contains_term("top1排名 cup", "TOP1排名"));
    }

    /// Every term found, in list order, overlapping ones too (全球第一 and 第一), each once.
    #[test]
    fn all_terms_in_list_order_each_once() {
        let terms = ["第一", "best", "全球第一", "极品", "No.1"];
        assert_eq!(found("全球第一 best 保温杯 第一 BEST no.1", &terms), ["第一", "best", "全球第一", "No.1"]);
        assert_eq!(found("保温杯", &terms), Vec::<String>::new());
    }
}
