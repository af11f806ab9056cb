//! Items grouped by a key, in flat arrays: the registrations by SKU, offer or slot (P106, P107,
//! S202, E306/E308) and SPEC §10's groupings of registrations and slots.

// polars' hasher (foldhash): these maps are keyed by every registration, SipHash was a tenth of the time
use polars::prelude::PlHashMap as HashMap;

/// Items grouped by a key, each group's members in the items' order, groups in order of first
/// appearance, in two flat arrays (a `Vec` per group was a million small allocations at 100 M
/// price rows).
pub struct Groups {
    /// The group of each registration.
    pub(super) of: Vec<u32>,
    /// Members of group `g`: `members[start[g]..start[g + 1]]`.
    pub(super) start: Vec<u32>,
    members: Vec<u32>,
}

impl Groups {
    /// Group by dense ids: `of[i] < n` is item `i`'s.
    pub fn dense(of: Vec<u32>, n: usize) -> Groups {
        let mut start = vec![0u32; n + 1];
        for &g in &of {
            start[g as usize + 1] += 1;
        }
        for g in 0..n {
            start[g + 1] += start[g];
        }
        let mut next = start.clone();
        let mut members = vec![0u32; of.len()];
        for (i, &g) in of.iter().enumerate() {
            members[next[g as usize] as usize] = i as u32;
            next[g as usize] += 1;
        }
        Groups { of, start, members }
    }

    /// Group by any key (numbered in order of first appearance).
    pub fn by<'a, T, K: std::hash::Hash + Eq>(items: &'a [T], key: impl Fn(&'a T) -> K) -> Groups {
        let mut ids: HashMap<K, u32> = HashMap::with_capacity_and_hasher(items.len(), Default::default());
        let of: Vec<u32> = items
            .iter()
            .map(|r| {
                let n = ids.len() as u32;
                *ids.entry(key(r)).or_insert(n)
            })
            .collect();
        Groups::dense(of, ids.len())
    }

    /// The members of item `i`'s group (itself included).
    pub fn with(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.group(self.of[i] as usize).iter().map(|&m| m as usize)
    }

    /// The members of group `g` (indices into the items, in the items' order).
    pub fn group(&self, g: usize) -> &[u32] {
        &self.members[self.start[g] as usize..self.start[g + 1] as usize]
    }

    /// Every group's members (indices into the items), groups in order of first appearance.
    pub fn all(&self) -> impl Iterator<Item = &[u32]> + '_ {
        (0..self.start.len().saturating_sub(1)).map(|g| self.group(g))
    }
}

#[cfg(test)]
mod tests {
    use super::Groups;

    #[test]
    fn groups_list_each_registrations_group_in_file_order() {
        // registrations 0..5 in groups 2, 0, 2, 1, 0 (group 3 empty)
        let g = Groups::dense(vec![2, 0, 2, 1, 0], 4);
        let with = |i| g.with(i).collect::<Vec<_>>();
        assert_eq!(with(0), vec![0, 2]);
        assert_eq!(with(2), vec![0, 2]);
        assert_eq!(with(1), vec![1, 4]);
        assert_eq!(with(4), vec![1, 4]);
        assert_eq!(with(3), vec![3]);
        assert_eq!(g.start, vec![0, 2, 3, 5, 5]);
        assert_eq!((g.group(0), g.group(3)), (&[1u32, 4][..], &[][..]));
        let all: Vec<&[u32]> = g.all().collect();
        assert_eq!(all, [&[1u32, 4][..], &[3], &[0, 2], &[]]);
    }
}
