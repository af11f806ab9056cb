//! D601 duplicate-listing: one merchant promoting the same product under two offers at once.
//!
//! What it checks (SPEC §10.5): another registration (any profile) of the same merchant
//! (non-empty `merchant_id`) on a different offer, whose promo window (closed) overlaps this
//! one's and whose title is equal after normalisation: Unicode NFKC, lower case, then every
//! punctuation character (general category P*) and every White_Space character removed (symbols
//! stay). Once per other offer, with that offer's first matching registration (file order) as
//! evidence. A title that normalises to empty is not checked. No figures.
//!
//! Why the platform cares: 重复铺货 (the same item listed several times, or by several stores of
//! one company) splits the promotion's traffic and is cleared out.
//!
//! Seed: 004 三.4(1) (重复同款, 同一个主体的多店铺同款).
//!
//! Example: "保温杯 500ml" on offer A and "保温杯500ML！" on offer B, same merchant, overlapping
//! promos → D601 on both; "保温杯 500ml+" (a symbol) on B → passes.

use super::*;
use crate::facts::groups::Groups;

pub const RULE: Rule = Rule {
    code: "D601",
    name: "duplicate-listing",
    severity: Severity::Error,
    source: include_str!("d601_duplicate_listing.rs"),
    check: Check::Across(check),
    not_checked: Some(|cx, _| {
        if cx.reg.merchant_id.is_empty() {
            Some(Unchecked::new(Missing::Column, Cow::Borrowed("no merchant_id")))
        } else if normalises_to_empty(&cx.reg.title) {
            Some(Unchecked::new(Missing::Column, Cow::Borrowed("no title (empty after normalisation)")))
        } else {
            None
        }
    }),
    ..DEFAULTS
};

/// Does the title normalise to nothing? (A letter or a digit anywhere answers no without
/// normalising: the summary asks this of every registration.)
fn normalises_to_empty(title: &str) -> bool {
    !title.chars().any(char::is_alphanumeric) && normalise(title).is_empty()
}

/// The title as compared: NFKC, lower case, without punctuation (P*) and White_Space.
pub fn normalise(title: &str) -> String {
    use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};
    static PUNCTUATION: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let punctuation = PUNCTUATION.get_or_init(|| regex::Regex::new(r"^\p{P}$").expect("a valid class"));
    // most titles are NFKC already (CJK text): no copy for the normalisation then
    let nfkc: std::borrow::Cow<str> = match is_nfkc_quick(title.chars()) {
        IsNormalized::Yes => title.into(),
        _ => title.nfkc().collect::<String>().into(),
    };
    let mut out = String::with_capacity(nfkc.len());
    let mut buf = [0u8; 4];
    for c in nfkc.to_lowercase().chars() {
        // letters and digits (L*, N*) are neither punctuation nor white space: only the rest is
        // looked up in the Unicode classes
        if c.is_alphanumeric() || !(c.is_whitespace() || punctuation.is_match(c.encode_utf8(&mut buf))) {
            out.push(c);
        }
    }
    out
}

fn check(a: &Across) -> Vec<Finding> {
    let regs = &a.facts.registrations;
    // each distinct title normalised once (an offer's SKUs share theirs)
    let mut normalised: polars::prelude::PlHashMap<&str, std::rc::Rc<str>> = Default::default();
    let titled: Vec<(usize, std::rc::Rc<str>)> = (0..regs.len())
        .filter(|&i| !regs[i].merchant_id.is_empty())
        .map(|i| {
            let t = regs[i].title.as_str();
            (i, normalised.entry(t).or_insert_with(|| normalise(t).into()).clone())
        })
        .filter(|(_, t)| !t.is_empty())
        .collect();
    let mut out = Vec::new();
    let groups = Groups::by(&titled, |(i, t)| (regs[*i].merchant_id.as_str(), &**t));
    for group in groups.all() {
        let members: Vec<usize> = group.iter().map(|&g| titled[g as usize].0).collect();
        if members.iter().all(|&m| regs[m].offer_id == regs[members[0]].offer_id) {
            continue;
        }
        for &i in members.iter().filter(|&&i| a.runs(i)) {
            let r = &regs[i];
            // the first matching registration of each other offer (members are in file order)
            let mut seen: Vec<&str> = Vec::new();
            for &o in &members {
                let other = &regs[o];
                if other.offer_id == r.offer_id || seen.contains(&other.offer_id.as_str()) {
                    continue;
                }
                if other.promo_start <= r.promo_end && r.promo_start <= other.promo_end {
                    seen.push(other.offer_id.as_str());
                    let cx = a.ctx(i);
                    let msg = format!(
                        "title {:?} duplicates offer {}'s (registration {}, {}) of the same merchant, in overlapping promotions",
                        r.title, other.offer_id, other.registration_id, other.activity
                    );
                    out.push(cx.bare_finding(Some(cx.slot_evidence(other)), msg));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn normalisation_drops_punctuation_and_space_keeps_symbols() {
        assert_eq!(normalise("保温杯 500ml"), normalise("保温杯500ML！"));
        assert_eq!(normalise("ＡＢＣ　１２３"), "abc123", "NFKC: full-width letters, digits, ideographic space");
        assert_eq!(normalise("a–b—c·d_e"), "abcde", "dashes, middle dot and connector are P*");
        assert_eq!(normalise("a$b+c~d"), "a$b+c~d", "symbols (S*) stay");
        assert_eq!(normalise("Ⅻ"), "xii", "compatibility forms fold");
        assert_eq!(normalise(" ！！ .. "), "");
    }
}
