-- The benchmark peer: priceaudit's core audit (SPEC §4, P101–P106) as DuckDB SQL over the same
-- Parquet dump. It computes lowest_30d / lowest_180d with each profile's basis and excluded
-- channels, list intervals with carry-forward and same-instant supersession, the list price in
-- force at registration, the retail reference, the warm-up minimum (prices and other
-- registrations), and counts the registrations (ladder groups for P105) failing each rule.
-- Like priceaudit it reads every row; it assumes a clean dump (no validation: synth dumps have
-- no bad rows). `read_parquet('{DUMP}/NAME.parquet')` is replaced by peer.py with the table's
-- source in the dump: the file, a directory of part files, or a CSV file read with typed columns.
SET threads = 2;
-- naive timestamps are local time in Asia/Shanghai, as in priceaudit's default zone
SET TimeZone = 'Asia/Shanghai';

CREATE TEMP TABLE prof AS SELECT * FROM (VALUES
  ('huopin',      'txn',  true,  false, 72,  true,  true,  9, 10, true),
  ('huopin-double', 'txn', true, false, 72,  true,  true,  9, 10, true),
  ('huopin-quality', 'txn', true, false, 72, true,  true,  9, 10, true),
  ('huopin-hot',  'txn',  true,  false, 72,  true,  true,  9, 10, true),
  ('huopin-single', 'txn', true, false, 72,  true,  true,  9, 10, true),
  ('huopin-weekend', 'txn', true, false, 72, true,  true,  9, 10, true),
  ('clearance',   'none', false, false, 0,   false, true,  85, 100, false),
  ('yanxuan',     'none', false, false, 0,   false, true,  95, 100, false),
  ('ae-platform', 'list', false, true,  216, true,  false, 0, 1, false),
  ('ae-store',    'list', true,  false, 216, true,  false, 0, 1, false),
  ('eu-omnibus',  'none', false, false, 0,   false, false, 0, 1, false),
  ('cn-samr',     'none', false, false, 0,   false, false, 0, 1, false)
) AS t(activity, basis, p101, p102, warmup_h, p106, p103, list_num, list_den, p104);

CREATE TEMP TABLE excl AS SELECT * FROM (VALUES
  ('huopin', 'huopin'), ('huopin', 'member_price'), ('huopin', 'bundle_price'),
  ('huopin-double', 'huopin'), ('huopin-double', 'member_price'), ('huopin-double', 'bundle_price'),
  ('huopin-quality', 'huopin'), ('huopin-quality', 'member_price'), ('huopin-quality', 'bundle_price'),
  ('huopin-hot', 'huopin'), ('huopin-hot', 'member_price'), ('huopin-hot', 'bundle_price'),
  ('huopin-single', 'huopin'), ('huopin-single', 'member_price'), ('huopin-single', 'bundle_price'),
  ('huopin-weekend', 'huopin'), ('huopin-weekend', 'member_price'), ('huopin-weekend', 'bundle_price'),
  ('ae-platform', 'ru_group'), ('ae-platform', 'flash_deal'), ('ae-platform', 'trial'), ('ae-platform', 'coins'),
  ('ae-platform', 'presale'), ('ae-platform', 'promo_nov'), ('ae-platform', 'promo_aug'), ('ae-platform', 'winter_clearance'),
  ('ae-platform', 'member_price'), ('ae-platform', 'bundle_price'),
  ('ae-store', 'ru_group'), ('ae-store', 'flash_deal'), ('ae-store', 'trial'), ('ae-store', 'coins'),
  ('ae-store', 'presale'), ('ae-store', 'promo_nov'), ('ae-store', 'promo_aug'), ('ae-store', 'winter_clearance'),
  ('ae-store', 'member_price'), ('ae-store', 'bundle_price')
) AS t(activity, channel);

CREATE TEMP TABLE regs AS
SELECT row_number() OVER () AS rrn, r.*, p.* EXCLUDE (activity)
FROM read_parquet('{DUMP}/registrations.parquet') r JOIN prof p USING (activity);

CREATE TEMP TABLE skus AS SELECT DISTINCT offer_id, sku_id FROM regs;

-- prices of registered SKUs, file order kept as rn, with list intervals
CREATE TEMP TABLE p AS
WITH raw AS (
  SELECT row_number() OVER () AS rn, offer_id, sku_id, ts, price, kind = 'list' AS is_list,
         coalesce(nullif(channel, ''), 'regular') AS channel, until
  FROM read_parquet('{DUMP}/prices.parquet')
), reg AS (
  SELECT raw.* FROM raw SEMI JOIN skus USING (offer_id, sku_id)
), nxt AS (
  SELECT *, CASE WHEN is_list THEN lead(ts) OVER (PARTITION BY offer_id, sku_id, is_list, channel ORDER BY ts, rn) END AS next_ts
  FROM reg
)
SELECT rn, offer_id, sku_id, ts, price, is_list, channel,
       coalesce(is_list AND next_ts = ts, false) AS superseded,
       CASE WHEN NOT is_list THEN NULL WHEN next_ts = ts THEN ts WHEN until IS NOT NULL THEN until ELSE next_ts END AS "end"
FROM nxt;

-- one row per (registration, price row of its SKU) that is not superseded
CREATE TEMP TABLE j AS
SELECT r.rrn, r.activity, r.registered_at, r.promo_start, r.approved_at, r.warmup_start, r.warmup_h, r.basis,
       r.p101, r.p102, r.p106, p.ts, p.price, p.is_list, p.channel, p."end",
       (e.channel IS NOT NULL) AS excluded
FROM regs r JOIN p USING (offer_id, sku_id)
LEFT JOIN excl e ON e.activity = r.activity AND e.channel = p.channel
WHERE NOT p.superseded;

CREATE TEMP TABLE facts AS
SELECT rrn,
  min(price) FILTER (WHERE p101 AND NOT excluded AND ((basis = 'txn' AND NOT is_list) OR (basis = 'list' AND is_list))
      AND ((NOT is_list AND ts >= registered_at - INTERVAL (30*24) HOUR AND ts <= registered_at)
        OR (is_list AND ts <= registered_at AND ("end" IS NULL OR "end" > registered_at - INTERVAL (30*24) HOUR)))) AS lowest_30d,
  min(price) FILTER (WHERE p102 AND NOT excluded AND ((basis = 'txn' AND NOT is_list) OR (basis = 'list' AND is_list))
      AND ((NOT is_list AND ts >= registered_at - INTERVAL (180*24) HOUR AND ts <= registered_at)
        OR (is_list AND ts <= registered_at AND ("end" IS NULL OR "end" > registered_at - INTERVAL (180*24) HOUR)))) AS lowest_180d,
  min(price) FILTER (WHERE p106 AND channel NOT IN ('member_price', 'bundle_price')
      AND ((NOT is_list AND ts >= coalesce(warmup_start, greatest(promo_start - INTERVAL (warmup_h) HOUR, coalesce(approved_at, promo_start - INTERVAL (warmup_h) HOUR))) AND ts < promo_start)
        OR (is_list AND ts < promo_start AND ("end" IS NULL OR "end" > coalesce(warmup_start, greatest(promo_start - INTERVAL (warmup_h) HOUR, coalesce(approved_at, promo_start - INTERVAL (warmup_h) HOUR))))))) AS warmup_prices
FROM j GROUP BY rrn;

-- §4.3 list price in force at registration (regular or unknown channel; latest ts, last row)
CREATE TEMP TABLE list_ref AS
SELECT r.rrn, arg_max(p.price, (p.ts, p.rn)) AS list_in_force
FROM regs r JOIN p USING (offer_id, sku_id)
WHERE r.list_price IS NULL AND r.p103 AND p.is_list AND NOT p.superseded
  AND p.channel NOT IN ('private_adjust', 'huopin', 'daily_activity', 'flash_deal', 'trial', 'coins', 'presale', 'ru_group',
                        'promo_aug', 'promo_nov', 'winter_clearance', 'member_price', 'bundle_price')
  AND p.ts <= r.registered_at AND (p."end" IS NULL OR p."end" > r.registered_at)
GROUP BY r.rrn;

-- §4.4 retail reference
CREATE TEMP TABLE retail_ref AS
SELECT r.rrn, min(t.price) AS retail_obs
FROM regs r JOIN read_parquet('{DUMP}/retail.parquet') t USING (offer_id, sku_id)
WHERE r.retail_price IS NULL AND r.p104
  AND t.observed_at >= r.registered_at - INTERVAL (30*24) HOUR AND t.observed_at <= r.registered_at
GROUP BY r.rrn;

-- P106: other registrations of the SKU whose window meets the warm-up
CREATE TEMP TABLE warm_regs AS
SELECT r.rrn, min(o.promo_price) AS warmup_regs
FROM regs r JOIN regs o ON o.offer_id = r.offer_id AND o.sku_id = r.sku_id AND o.rrn <> r.rrn
WHERE r.p106 AND o.promo_start < r.promo_start
  AND o.promo_end >= coalesce(r.warmup_start, greatest(r.promo_start - INTERVAL (r.warmup_h) HOUR, coalesce(r.approved_at, r.promo_start - INTERVAL (r.warmup_h) HOUR)))
GROUP BY r.rrn;

CREATE TEMP TABLE verdicts AS
SELECT r.rrn, r.activity, r.promo_price,
  f.lowest_30d, f.lowest_180d,
  coalesce(r.list_price, l.list_in_force) AS list,
  coalesce(r.retail_price, t.retail_obs) AS retail,
  least(coalesce(f.warmup_prices, w.warmup_regs), coalesce(w.warmup_regs, f.warmup_prices)) AS warmup_min,
  r.p101, r.p102, r.p103, r.p104, r.p106, r.list_num, r.list_den
FROM regs r LEFT JOIN facts f USING (rrn) LEFT JOIN list_ref l USING (rrn)
LEFT JOIN retail_ref t USING (rrn) LEFT JOIN warm_regs w USING (rrn);

SELECT 'P101' AS rule, count(*) FILTER (WHERE p101 AND promo_price > lowest_30d) AS n FROM verdicts
UNION ALL SELECT 'P102', count(*) FILTER (WHERE p102 AND promo_price > lowest_180d) FROM verdicts
UNION ALL SELECT 'P103', count(*) FILTER (WHERE p103 AND (
    (activity LIKE 'huopin%' AND promo_price * 10 >= list * 9) OR (activity = 'yanxuan' AND promo_price * 100 > list * 95)
    OR (activity = 'clearance' AND promo_price * 100 > list * 85))) FROM verdicts
UNION ALL SELECT 'P104', count(*) FILTER (WHERE p104 AND promo_price * 10 >= retail * 8) FROM verdicts
UNION ALL SELECT 'P105', count(*) FROM (
    SELECT offer_id, coalesce(sku_id, '') AS sku FROM read_parquet('{DUMP}/ladders.parquet')
    GROUP BY ALL HAVING max(price) > 10 * min(price))
UNION ALL SELECT 'P106', count(*) FILTER (WHERE p106 AND warmup_min <= promo_price) FROM verdicts
ORDER BY rule;
