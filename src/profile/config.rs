//! The TOML config file (`--config FILE`): run settings and profile overrides.
//!
//! ```toml
//! timezone = "America/Los_Angeles"      # zone of naive timestamps
//! ladder_spread_limit = "10"            # P105
//!
//! [profile.ae-platform.category_discount] # override a built-in profile
//! apparel = "0.05"
//!
//! [profile.clearance]                   # add a profile
//! extends = "huopin"
//! list_factor = "0.85"
//! ```
//!
//! Decimals are written as strings (`"0.85"`) or integers, never TOML floats, so that no factor
//! passes through binary floating point. Any unknown key, unknown rule code or malformed value is
//! an error naming the file, the key and the reason.

use super::{Baseline, Basis, Profile, Settings};
use crate::error::{Error, Result};
use crate::findings::Severity;
use crate::money::Dec;
use std::collections::BTreeMap;
use std::path::Path;
use toml::{Table, Value};

/// The longest window or lead time a setting may give: 100 years (36,500 days; hours: × 24).
pub const MAX_DAYS: i64 = 36_500;

struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn err(&self, key: &str, reason: impl std::fmt::Display) -> Error {
        Error::config(format!("config {}: key `{}`: {}", self.file, key, reason))
    }

    /// A decimal setting, held to the money domain (≤ 28 integer digits, ≤ 10 decimal places), so
    /// that no product of a setting and a price can leave the exact arithmetic's range.
    fn dec(&self, key: &str, v: &Value) -> Result<Dec> {
        let d = match v {
            Value::String(s) => Dec::parse(s).ok_or_else(|| self.err(key, format!("{s:?} is not a decimal")))?,
            Value::Integer(i) => Dec::from_int(*i),
            Value::Float(f) => {
                return Err(self.err(key, format!("write decimals as strings (\"{f}\"), not TOML floats")))
            }
            other => return Err(self.err(key, format!("expected a decimal, found {}", other.type_str()))),
        };
        if !d.in_money_domain() {
            return Err(self.err(key, format!("{d} is out of range (at most 28 integer digits and 10 decimal places)")));
        }
        Ok(d)
    }

    fn factor(&self, key: &str, v: &Value) -> Result<Dec> {
        let d = self.dec(key, v)?;
        if d < Dec::ZERO {
            return Err(self.err(key, "must not be negative"));
        }
        Ok(d)
    }

    /// A whole number in `0..=max` (a window or lead time: bounded so that every instant the
    /// rules form from it stays inside the timestamps' range).
    fn int(&self, key: &str, v: &Value, max: i64) -> Result<i64> {
        let i = match v {
            Value::Integer(i) if *i >= 0 => *i,
            Value::String(s) => s
                .parse::<i64>()
                .ok()
                .filter(|i| *i >= 0)
                .ok_or_else(|| self.err(key, format!("{s:?} is not a whole number ≥ 0")))?,
            other => return Err(self.err(key, format!("expected a whole number ≥ 0, found {}", other))),
        };
        if i > max {
            return Err(self.err(key, format!("{i} is out of range (at most {max})")));
        }
        Ok(i)
    }

    fn boolean(&self, key: &str, v: &Value) -> Result<bool> {
        v.as_bool().ok_or_else(|| self.err(key, "expected true or false"))
    }

    fn string(&self, key: &str, v: &Value) -> Result<String> {
        v.as_str().map(str::to_string).ok_or_else(|| self.err(key, "expected a string"))
    }

    fn strings(&self, key: &str, v: &Value) -> Result<Vec<String>> {
        let arr = v.as_array().ok_or_else(|| self.err(key, "expected an array of strings"))?;
        arr.iter().map(|x| self.string(key, x)).collect()
    }

    fn table<'v>(&self, key: &str, v: &'v Value) -> Result<&'v Table> {
        v.as_table().ok_or_else(|| self.err(key, "expected a table"))
    }

    /// A `[[profile.NAME.gates]]` table: `code` (a gate rule of the registry), `column` (a
    /// registration metric), `op` (`>=`, `>`, `<=`, `<`, `=`) and `value` (a decimal string).
    fn gate(&self, key: &str, v: &Value) -> Result<super::Gate> {
        let t = self.table(key, v)?;
        for k in t.keys() {
            if !["code", "column", "op", "value"].contains(&k.as_str()) {
                return Err(self.err(&format!("{key}.{k}"), "unknown gate key (expected code, column, op, value)"));
            }
        }
        let field = |k: &str| t.get(k).ok_or_else(|| self.err(key, format!("a gate needs `{k}`")));
        let code = self.string(&format!("{key}.code"), field("code")?)?;
        self.rule_code(&format!("{key}.code"), &code)?;
        if !crate::rules::by_code(&code).is_some_and(|r| matches!(r.check, crate::rules::Check::Gate)) {
            return Err(self.err(&format!("{key}.code"), format!("{code} is not a gate rule")));
        }
        let column = self.string(&format!("{key}.column"), field("column")?)?;
        if !crate::dump::schema::METRICS.contains(&column.as_str()) {
            return Err(self.err(
                &format!("{key}.column"),
                format!("{column:?} is not a registrations metric ({})", crate::dump::schema::METRICS.join(", ")),
            ));
        }
        let op_text = self.string(&format!("{key}.op"), field("op")?)?;
        let op = crate::rules::gate::Op::parse(&op_text).ok_or_else(|| {
            self.err(&format!("{key}.op"), format!("unknown op {op_text:?} (expected >=, >, <=, <, =)"))
        })?;
        let value = self.dec(&format!("{key}.value"), field("value")?)?;
        Ok(super::Gate { code, column, op, value })
    }

    fn rule_code(&self, key: &str, code: &str) -> Result<()> {
        if crate::rules::by_code(code).is_none() {
            return Err(self.err(key, format!("unknown rule code {code:?} (see `priceaudit rules`)")));
        }
        Ok(())
    }
}

/// Load `path` on top of the built-in settings.
pub fn load(path: &Path) -> Result<Settings> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::config(format!("config {}: {e}", path.display())))?;
    parse(&text, &path.display().to_string())
}

/// Parse config text on top of the built-in settings (`file` names it in errors).
pub fn parse(text: &str, file: &str) -> Result<Settings> {
    let cx = Ctx { file };
    let doc: Table =
        text.parse().map_err(|e: toml::de::Error| Error::config(format!("config {file}: {}", e.to_string().trim())))?;
    let mut settings = Settings::default();
    let mut profiles: Option<&Table> = None;
    for (k, v) in &doc {
        match k.as_str() {
            "timezone" => {
                let z = cx.string(k, v)?;
                crate::time::zone(&z).map_err(|e| cx.err(k, e))?;
                settings.timezone = z;
            }
            "ladder_spread_limit" => settings.ladder_spread_limit = cx.factor(k, v)?,
            "profile" => profiles = Some(cx.table(k, v)?),
            other => {
                return Err(cx.err(other, "unknown setting (expected timezone, ladder_spread_limit or [profile.NAME])"))
            }
        }
    }
    if let Some(profiles) = profiles {
        // Resolve `extends` in dependency order: a profile may extend one defined later in the file.
        let mut pending: Vec<(&String, &Table)> = Vec::new();
        for (name, v) in profiles {
            pending.push((name, cx.table(&format!("profile.{name}"), v)?));
        }
        while !pending.is_empty() {
            let before = pending.len();
            let mut rest = Vec::new();
            for (name, t) in pending {
                let prefix = format!("profile.{name}");
                let parent = match t.get("extends") {
                    Some(v) => Some(cx.string(&format!("{prefix}.extends"), v)?),
                    None => None,
                };
                let waiting = parent
                    .as_ref()
                    .is_some_and(|p| settings.profile(p).is_none() && profiles.contains_key(p.as_str()) && p != name);
                if waiting {
                    rest.push((name, t));
                    continue;
                }
                let start = match (&parent, settings.profile(name)) {
                    (Some(p), _) => {
                        let mut base = settings
                            .profile(p)
                            .cloned()
                            .ok_or_else(|| cx.err(&format!("{prefix}.extends"), format!("unknown profile {p:?}")))?;
                        base.name = name.clone();
                        base
                    }
                    (None, Some(existing)) => existing.clone(),
                    (None, None) => {
                        let mut p = super::base(name, "", &[]);
                        p.rules.clear();
                        p
                    }
                };
                let profile = apply(&cx, &prefix, start, t)?;
                match settings.profiles.iter_mut().find(|p| p.name == *name) {
                    Some(slot) => *slot = profile,
                    None => settings.profiles.push(profile),
                }
            }
            if rest.len() == before {
                return Err(cx.err(&format!("profile.{}.extends", rest[0].0), "profiles extend each other in a cycle"));
            }
            pending = rest;
        }
    }
    Ok(settings)
}

fn apply(cx: &Ctx, prefix: &str, mut p: Profile, t: &Table) -> Result<Profile> {
    for (k, v) in t {
        let key = format!("{prefix}.{k}");
        let key = key.as_str();
        match k.as_str() {
            "extends" => {}
            "description" => p.description = cx.string(key, v)?,
            "rules" => {
                let codes = cx.strings(key, v)?;
                let mut rules = BTreeMap::new();
                for c in codes {
                    cx.rule_code(key, &c)?;
                    let sev =
                        p.rules.get(&c).copied().unwrap_or_else(|| {
                            crate::rules::by_code(&c).map(|r| r.severity).unwrap_or(Severity::Error)
                        });
                    rules.insert(c, sev);
                }
                p.rules = rules;
            }
            "severity" => {
                for (code, sv) in cx.table(key, v)? {
                    let sub = format!("{key}.{code}");
                    cx.rule_code(&sub, code)?;
                    let s = cx.string(&sub, sv)?;
                    let sev =
                        Severity::parse(&s).ok_or_else(|| cx.err(&sub, format!("{s:?} is not error or warning")))?;
                    p.rules.insert(code.clone(), sev);
                }
            }
            "basis" => {
                let s = cx.string(key, v)?;
                p.basis = Basis::parse(&s).ok_or_else(|| cx.err(key, format!("{s:?} is not txn, list or both")))?;
            }
            "lowest_30d_days" => p.lowest_30d_days = cx.int(key, v, MAX_DAYS)?,
            "lowest_180d_days" => p.lowest_180d_days = cx.int(key, v, MAX_DAYS)?,
            "lowest_factor" => p.lowest_factor = cx.factor(key, v)?,
            "excluded_channels" => p.excluded_channels = cx.strings(key, v)?,
            "list_factor" => p.list_factor = cx.factor(key, v)?,
            "list_strict" => p.list_strict = cx.boolean(key, v)?,
            "retail_factor" => p.retail_factor = cx.factor(key, v)?,
            "retail_strict" => p.retail_strict = cx.boolean(key, v)?,
            "category_discount" => {
                for (cat, dv) in cx.table(key, v)? {
                    let sub = format!("{key}.{cat}");
                    let d = cx.factor(&sub, dv)?;
                    if d > Dec::from_int(1) {
                        return Err(cx.err(&sub, "a discount must be between 0 and 1"));
                    }
                    p.category_discount.insert(cat.clone(), d);
                }
            }
            "warmup_hours" => p.warmup_hours = cx.int(key, v, MAX_DAYS * 24)?,
            "min_lead_hours" => p.min_lead_hours = cx.int(key, v, MAX_DAYS * 24)?,
            "conflict_group" => {
                let s = cx.string(key, v)?;
                p.conflict_group = if s.is_empty() { None } else { Some(s) };
            }
            "big_promo" => p.big_promo = cx.boolean(key, v)?,
            "eligibility" => {
                for (code, tv) in cx.table(key, v)? {
                    let sub = format!("{key}.{code}");
                    if !code.starts_with('E') {
                        return Err(cx.err(&sub, "eligibility thresholds are keyed by an E rule code (E301–E309)"));
                    }
                    cx.rule_code(&sub, code)?;
                    let value = cx.dec(&sub, tv)?;
                    if let Some(g) = p.gates.iter_mut().find(|g| &g.code == code) {
                        g.value = value;
                    } else if let Some(g) =
                        super::builtins().into_iter().flat_map(|b| b.gates).find(|g| &g.code == code)
                    {
                        // a gate this profile does not declare yet: the seed's column and comparison
                        p.set_gate(super::Gate { value, ..g });
                    } else {
                        p.eligibility.insert(code.clone(), value);
                    }
                }
            }
            "gates" => {
                let arr =
                    v.as_array().ok_or_else(|| cx.err(key, "expected an array of tables ([[profile.NAME.gates]])"))?;
                for (i, gv) in arr.iter().enumerate() {
                    let sub = format!("{key}[{i}]");
                    let g = cx.gate(&sub, gv)?;
                    if !p.runs(&g.code) {
                        let sev = crate::rules::by_code(&g.code).map(|r| r.severity).unwrap_or(Severity::Error);
                        p.rules.insert(g.code.clone(), sev);
                    }
                    p.set_gate(g);
                }
            }
            "title_terms" => p.title_terms = cx.strings(key, v)?,
            "title_terms_add" => p.title_terms.extend(cx.strings(key, v)?),
            "baseline" => {
                let s = cx.string(key, v)?;
                p.baseline = if s == "none" {
                    None
                } else {
                    Some(
                        Baseline::parse(&s)
                            .ok_or_else(|| cx.err(key, format!("{s:?} is not eu-omnibus, cn-samr or none")))?,
                    )
                };
            }
            "baseline_days" => p.baseline_days = cx.int(key, v, MAX_DAYS)?,
            "price_tick" => {
                let d = cx.dec(key, v)?;
                if !d.is_positive() {
                    return Err(cx.err(key, "must be > 0"));
                }
                p.price_tick = d;
            }
            _ => return Err(cx.err(key, "unknown setting")),
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extends_and_overrides() {
        let s = parse(
            r#"
            [profile.clearance]
            extends = "huopin"
            list_factor = "0.85"
            [profile.ae-platform.category_discount]
            apparel = "0.05"
            "#,
            "t.toml",
        )
        .unwrap();
        let c = s.profile("clearance").unwrap();
        assert_eq!(c.list_factor.to_string(), "0.85");
        assert!(c.runs("P101") && c.list_strict);
        let ae = s.profile("ae-platform").unwrap();
        assert_eq!(ae.discount_for("apparel").to_string(), "0.05");
        assert_eq!(ae.discount_for("toys").to_string(), "0");
    }

    #[test]
    fn bad_config_names_file_key_and_reason() {
        let e = parse("[profile.huopin]\nlist_factr = \"0.9\"\n", "c.toml").unwrap_err().message;
        assert!(
            e.contains("c.toml") && e.contains("profile.huopin.list_factr") && e.contains("unknown setting"),
            "{e}"
        );
        let e = parse("[profile.huopin]\nlist_factor = \"0,9\"\n", "c.toml").unwrap_err().message;
        assert!(e.contains("profile.huopin.list_factor") && e.contains("not a decimal"), "{e}");
        let e = parse("[profile.huopin]\nrules = [\"P999\"]\n", "c.toml").unwrap_err().message;
        assert!(e.contains("unknown rule code"), "{e}");
        let e = parse("[profile.huopin]\nlist_factor = 0.9\n", "c.toml").unwrap_err().message;
        assert!(e.contains("not TOML floats"), "{e}");
        // a config error is the config's, not the dump's
        let kind = parse("[profile.huopin]\nlist_factr = \"0.9\"\n", "c.toml").unwrap_err().kind;
        assert_eq!(kind, crate::error::ErrorKind::Config);
        // values outside their domains name the key
        let e = parse("[profile.huopin]\nwarmup_hours = 876001\n", "c.toml").unwrap_err().message;
        assert!(e.contains("profile.huopin.warmup_hours") && e.contains("out of range"), "{e}");
        assert!(parse("[profile.huopin]\nwarmup_hours = 876000\n", "c.toml").is_ok());
        let e = parse(&format!("[profile.huopin]\nlist_factor = \"{}\"\n", "9".repeat(29)), "c.toml").unwrap_err();
        assert!(e.message.contains("out of range"), "{}", e.message);
        let e = parse("[profile.huopin]\nprice_tick = \"0.00000000001\"\n", "c.toml").unwrap_err();
        assert!(e.message.contains("price_tick") && e.message.contains("out of range"), "{}", e.message);
        assert!(parse("[profile.huopin]\nprice_tick = \"0.0000000001\"\n", "c.toml").is_ok());
    }
}
