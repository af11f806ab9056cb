//! SPEC §11's built-in merchant gates: each entry threshold of the seeds that is one comparison
//! on one column of the `merchants` table, declared once below with its code, name, profiles,
//! gate and seed. The registry takes each entry's rule (its documentation is written from the
//! entry), the built-in profiles take its gate ([`attach`]); the one check is [`super::gate`]'s.
//! A config adds a gate to a profile or replaces one by its code (`[[profile.NAME.gates]]`).
//!
//! To add a built-in merchant gate: add an entry.

use super::gate::{Cmp, Gate, GateTable, Op};
use super::Rule;

/// A built-in gate as declared: `table.column op value`, or `any_of: A | B`.
pub struct Declared {
    pub code: &'static str,
    /// The built-in profiles that run it (`huopin`: the whole huopin family, which derives from
    /// it).
    pub profiles: &'static [&'static str],
    pub gate: &'static str,
    pub seed: &'static str,
}

macro_rules! gates {
    ($($code:literal $name:literal [$($profile:literal),*] $gate:literal, $what:literal, $seed:literal, $why:literal;)*) => {
        /// Every built-in merchant gate, in code order.
        pub const DECLARED: &[Declared] = &[$(Declared { code: $code, profiles: &[$($profile),*], gate: $gate, seed: $seed }),*];

        /// Their rules, for the registry.
        pub const RULES: &[Rule] = &[$(super::gate::gate(
            $code,
            $name,
            concat!(
                $code, " ", $name, ": ", $what, "\n\n",
                "What it checks: `", $gate, "` must hold for the registration's merchant.\n",
                "A merchant gate (declared as data, `src/rules/merchant_gates.rs`; SPEC §11): it reads the\n",
                "merchant's row of the optional `merchants` table. Not checked (counted in the summary with\n",
                "the reason and an example value) without the table, the merchant, the column or a value, or\n",
                "when the value cannot be compared; never a pass or a finding on missing data. A config may\n",
                "replace the gate by its code (`[[profile.NAME.gates]]`).\n\n",
                "Why the platform cares: ", $why, "\n\n",
                "Seed: ", $seed, "."
            ),
        )),*];
    };
}

gates! {
    "M701" "medal-below-2a" ["huopin"] "merchants.medal >= 2A",
        "the merchant's trade medal is below 2A.",
        "000 招商门槛 1 (交易勋章等级 2A及以上)",
        "伙拼 admits stores with a trading record; the medal sums it up.";
    "M702" "identity-not-admitted" ["huopin"] "merchants.identity in SKA, super_factory, strength, factory_goods, preferred",
        "the merchant's identity is none of those 伙拼 admits.",
        "000 招商门槛 2 (SKA商家 或 超级工厂 或 实力商家 或 厂货通商家 或 行业优选商家)",
        "伙拼 recruits established supplier types only.";
    "M703" "low-lighthouse-product" ["huopin"] "merchants.lighthouse_product_30d >= 2",
        "the 30-day 新灯塔 product experience score is below 2.",
        "000 招商门槛 3(1) (近30天新灯塔商品体验分≥2分)",
        "a group-buy sends many buyers to the products; they must satisfy.";
    "M704" "low-lighthouse-logistics" ["huopin"] "merchants.lighthouse_logistics_30d >= 3",
        "the 30-day 新灯塔 logistics experience score is below 3.",
        "000 招商门槛 3(2) (近30天新灯塔物流体验分≥3分)",
        "a group-buy's volume must ship well.";
    "M705" "low-service-stars" ["huopin"] "merchants.service_stars >= 3.5",
        "the 新灯塔 merchant service rating is below 3.5 stars.",
        "000 招商门槛 3(3) (1688新灯塔商家服务星级≥3.5分)",
        "after-sales service carries the promotion's buyers.";
    "M706" "too-many-disputes-90d" ["huopin"] "merchants.disputes_90d <= 1",
        "more than one dispute in 90 days.",
        "000 招商门槛 4(1) (90天纠纷率(%)或纠纷笔数≤1笔; read as the count, SPEC §11)",
        "disputes show buyers who were let down.";
    "M707" "high-online-dispute-rate" ["huopin"] "merchants.online_dispute_rate_90d <= 0.0001",
        "the 90-day online transaction dispute rate is above 0.01%.",
        "000 招商门槛 4(2) (近90天在线交易纠纷数≤0.01%)",
        "disputes show buyers who were let down; the rate scales it to the store's volume.";
    "M708" "penalized-store" ["huopin"] "merchants.penalized = false",
        "the store is under a (non-risk-control) penalty.",
        "000 招商门槛 5 (店铺非风控处罚的商家)",
        "a penalized store may not be promoted.";
    "M709" "huopin-tier-below-silver" ["huopin-weekend"] "merchants.huopin_tier >= silver",
        "the merchant's monthly 伙拼 tier is below silver.",
        "000 周末团 ① (月度达到伙拼白银及以上的)",
        "周末团 is for merchants proven in 伙拼.";
    "M711" "medal-below-a" ["yanxuan"] "merchants.medal >= A",
        "the merchant's trade medal is below A.",
        "002 四.2 (交易勋章等级在A级及以上)",
        "严选 admits stores with a trading record.";
    "M712" "low-protection-deposit" ["yanxuan"] "merchants.buyer_protection_deposit >= 3000",
        "the buyer-protection deposit is below 3000 yuan.",
        "002 四.6 (买家保障服务保证金余额不低于3000元)",
        "the deposit pays buyers when a 严选 promise is broken.";
    "M713" "violation-points-36" ["yanxuan"] "merchants.violation_points_year < 36",
        "36 or more violation points this year.",
        "002 四.9 (本年度因违规累计扣分低于36分)",
        "repeat offenders may not carry the 严选 mark.";
    "M714" "prohibited-points-24" ["yanxuan"] "merchants.prohibited_points < 24",
        "24 or more points for prohibited information.",
        "002 四.11 (违禁信息累积扣分低于24分)",
        "repeat offenders may not carry the 严选 mark.";
    "M715" "level-or-identity" ["yanxuan"] "any_of: merchants.level >= L2 | merchants.identity in strength, super_factory",
        "neither 诚信通 level L2 or above nor a 实力商家 / 超级工厂 identity.",
        "002 二.3(3) (店铺诚信通L等级需为L2及以上或会员身份为实力商家或超级工厂)",
        "严选 products come from established stores or factories.";
    "M716" "low-lighthouse-product-yanxuan" ["yanxuan"] "merchants.lighthouse_product_30d >= 2",
        "the 30-day 新灯塔 product experience score is below 2.",
        "002 三.3 (近30天新灯塔商品体验分>=2分)",
        "严选 is a quality mark.";
    "M717" "low-lighthouse-dispute" ["yanxuan"] "merchants.lighthouse_dispute_30d >= 4",
        "the 30-day 新灯塔 dispute and complaint score is below 4.",
        "002 三.4 (近30天新灯塔纠纷投诉分>=4分)",
        "严选 is a quality mark; complaints undermine it.";
    "M718" "cxt-not-active" ["yanxuan"] "merchants.cxt_active = true",
        "the store has no active 诚信通 membership.",
        "002 四.3 (已开通诚信通)",
        "严选 is for 诚信通 members.";
    "M719" "alipay-not-verified" ["yanxuan"] "merchants.alipay_verified = true",
        "the store is not bound to a verified Alipay account.",
        "002 四.4 (店铺绑定已通过实名认证的支付宝账户)",
        "payments must be traceable to a verified account.";
    "M720" "no-buyer-protection" ["yanxuan"] "merchants.buyer_protection = true",
        "the store has not joined the buyer-protection service.",
        "002 四.5 (商家需开通买家保障服务)",
        "buyers of a promoted product must be protected.";
    "M721" "cxt-tenure-3-months" ["cxt-daily"] "merchants.tenure_months > 3",
        "诚信通 membership of 3 months or less.",
        "001 日常活动报名规则 (一)(1) (开通时间大于3个月)",
        "日常活动 are for established 诚信通 members.";
    "M722" "cxt-medal-below-2a" ["cxt-daily"] "merchants.medal >= 2A",
        "the merchant's trade medal is below 2A.",
        "001 日常活动报名规则 (一)(2) (交易勋章应为2A以上)",
        "日常活动 admit stores with a trading record.";
    "M723" "cxt-few-products" ["cxt-daily"] "merchants.products_online >= 20",
        "fewer than 20 products online.",
        "001 日常活动报名规则 (一)(3) (已发布上网的产品总数≥20条)",
        "a store promoted to buyers must have a range to show.";
    "M724" "cxt-low-satisfaction" ["cxt-daily"] "merchants.satisfaction >= 4",
        "store satisfaction below 4.",
        "001 日常活动报名规则 (一)(3) (店铺满意度4分及以上)",
        "promoted stores must satisfy buyers.";
    "M725" "cxt-alipay-not-verified" ["cxt-daily"] "merchants.alipay_verified = true",
        "the store is not bound to a verified Alipay account.",
        "001 日常活动报名规则 (一)(4) (绑定经实名认证的支付宝账户)",
        "payments must be traceable to a verified account.";
    "M726" "cxt-no-buyer-protection" ["cxt-daily"] "merchants.buyer_protection = true",
        "the store has not joined the buyer-protection service.",
        "001 日常活动报名规则 (一)(5) (加入买家保障服务)",
        "buyers of a promoted product must be protected.";
    "M727" "cxt-dispute-rate" ["cxt-daily"] "any_of: merchants.dispute_rate_90d < 0.0001 | merchants.disputes_90d <= 1",
        "a 90-day dispute rate of 0.01% or more, with more than one dispute.",
        "001 日常活动报名规则 (一)(6) (纠纷率低于0.01%; 纠纷笔数只有1笔的除外)",
        "disputes show buyers who were let down; a single dispute is excused.";
    "M728" "cxt-two-disputes" ["cxt-daily"] "merchants.disputes_90d < 2",
        "two or more disputes in 90 days.",
        "001 日常活动报名规则 (一)(6) (纠纷笔数小于2笔)",
        "disputes show buyers who were let down.";
    "M731" "cxt-huopin-medal-below-3a" ["cxt-huopin"] "merchants.medal >= 3A",
        "the merchant's trade medal is below 3A.",
        "001 火拼 (勋章等级必须是AAAA级或AAA级或AAAAA级之一)",
        "火拼专场 admits the strongest stores.";
    "M732" "cxt-huopin-low-satisfaction" ["cxt-huopin"] "merchants.satisfaction >= 4",
        "store satisfaction below 4.",
        "001 火拼 (店铺满意度需不低于4)",
        "promoted stores must satisfy buyers.";
    "M733" "cxt-huopin-few-products" ["cxt-huopin"] "merchants.products_online >= 20",
        "fewer than 20 products online.",
        "001 火拼 (已上网产品数需大于或等于20件)",
        "a store promoted to buyers must have a range to show.";
    "M734" "cxt-huopin-low-gmv" ["cxt-huopin"] "merchants.gmv_30d >= 20000",
        "30-day turnover below 20000 yuan.",
        "001 火拼 (会员近30天交易额需大于或等于20000元)",
        "火拼专场 admits stores that already sell.";
    "M735" "cxt-huopin-few-buyers" ["cxt-huopin"] "merchants.buyers_30d >= 15",
        "fewer than 15 buyers in 30 days.",
        "001 火拼 (会员近30天买家数需大于或等于15)",
        "火拼专场 admits stores with real demand.";
    "M736" "cxt-huopin-slow-shipping" ["cxt-huopin"] "merchants.ship_hours in 24, 48",
        "the store's dispatch promise is neither 24 nor 48 hours.",
        "001 火拼 (会员发货速度需满足 \"24小时发货\" 或 \"48小时发货\"之一)",
        "a group-buy's volume must ship fast.";
    "M737" "cxt-huopin-no-buyer-protection" ["cxt-huopin"] "merchants.buyer_protection = true",
        "the store has not joined the buyer-protection service.",
        "001 火拼 (要求会员加入买家保障)",
        "buyers of a promoted product must be protected.";
    "M738" "cxt-huopin-alipay-not-verified" ["cxt-huopin"] "merchants.alipay_verified = true",
        "the store is not bound to a verified Alipay account.",
        "001 火拼 (会员绑定支付宝,需 \"绑定支付宝并通过验证\")",
        "payments must be traceable to a verified account.";
    "M739" "cxt-huopin-tenure-3-months" ["cxt-huopin"] "merchants.tenure_months >= 3",
        "诚信通 membership shorter than 3 months.",
        "001 火拼 (本专场需要用户已开通诚信通过3个月)",
        "火拼专场 is for established 诚信通 members.";
    "M740" "cxt-huopin-dispute-rate" ["cxt-huopin"] "merchants.online_dispute_rate_90d <= 0.0001",
        "the 90-day online transaction dispute rate is above 0.01%.",
        "001 火拼 (会员近90天在线交易纠纷率<=0.01%)",
        "disputes show buyers who were let down.";
}

/// Read a declared gate (`table.column op value`, or `any_of: A | B`): `Err` names what is
/// wrong (a test reads every built-in one).
pub fn parse(code: &str, text: &str) -> Result<Gate, String> {
    let (any_of, body) = match text.strip_prefix("any_of:") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let members = body
        .split(" | ")
        .map(|m| {
            let mut parts = m.trim().splitn(3, ' ');
            let (Some(col), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(format!("{m:?} is not `table.column op value`"));
            };
            let (table, column) = col.split_once('.').ok_or_else(|| format!("{col:?} is not table.column"))?;
            let table = GateTable::parse(table).ok_or_else(|| format!("unknown table {table:?}"))?;
            let op = Op::parse(op).ok_or_else(|| format!("unknown op {op:?}"))?;
            Cmp::new(table, column, op, value)
        })
        .collect::<Result<Vec<Cmp>, String>>()?;
    Ok(Gate { code: code.into(), members, any_of })
}

/// Give built-in profile `p` the declared gates naming it (and their rules).
pub fn attach(p: &mut crate::profile::Profile) {
    let name = p.name.clone();
    for d in DECLARED.iter().filter(|d| d.profiles.contains(&name.as_str())) {
        let g = parse(d.code, d.gate).unwrap_or_else(|e| panic!("built-in gate {}: {e}", d.code));
        let rule = super::by_code(d.code).expect("a declared gate's rule is in the registry");
        p.rules.insert(d.code.to_string(), rule.severity);
        p.set_gate(g);
    }
}

/// The declared gate of `code`, if it is one.
pub fn declared(code: &str) -> Option<&'static Declared> {
    DECLARED.iter().find(|d| d.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_gate_reads_and_has_its_rule() {
        for (d, r) in DECLARED.iter().zip(RULES) {
            assert_eq!(d.code, r.code);
            let g = parse(d.code, d.gate).unwrap();
            assert_eq!(g.describe(), d.gate, "the declaration is the gate's text");
            assert!(r.doc.contains(d.seed), "{} documents its seed", d.code);
        }
        let g = parse("M715", "any_of: merchants.level >= L2 | merchants.identity in strength, super_factory").unwrap();
        assert!(g.any_of && g.members.len() == 2);
        assert!(parse("X", "merchants.medal >= AA级").is_err());
        assert!(parse("X", "stores.medal >= A").is_err());
        assert!(parse("X", "merchants.medal => A").is_err());
    }
}
