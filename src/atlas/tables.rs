//! Compact lookup structures of the snapshot: an index by string key that copies no key, and
//! per-grid lists stored back to back.

use std::hash::Hasher;

use hashbrown::HashTable;

use crate::address::FxHasher;

fn hash_str(key: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(key.as_bytes());
    h.finish()
}

/// Positions `0..n` by a string key read from the elements themselves through `key(i)` (a
/// map from code to position would copy every code; the keys may live in a slice of structs or
/// in a [`super::texts::TextTable`]). When several elements share a key, the last one is found,
/// as with a map filled in order. `key(i)` is `None` only past the end.
///
/// The hash is not keyed: keys come from the store, and a request only probes the table.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyIndex {
    table: HashTable<u32>,
    /// Whether two elements share a key (then only the table knows which is the last).
    repeats: bool,
}

impl KeyIndex {
    pub(crate) fn build<'k>(n: usize, key: impl Fn(u32) -> Option<&'k str>) -> KeyIndex {
        let mut table = HashTable::with_capacity(n);
        let mut repeats = false;
        let key_at = |i: u32| key(i).unwrap_or("");
        for i in 0..n as u32 {
            let k = key_at(i);
            match table.entry(hash_str(k), |&j| key_at(j) == k, |&j| hash_str(key_at(j))) {
                hashbrown::hash_table::Entry::Occupied(mut e) => {
                    *e.get_mut() = i;
                    repeats = true;
                }
                hashbrown::hash_table::Entry::Vacant(e) => {
                    e.insert(i);
                }
            }
        }
        KeyIndex { table, repeats }
    }

    /// For many lookups in a row: each first looks next to where the previous one was found,
    /// which is where it is when the keys come in about the order of the elements (the grid
    /// codes of buildings sorted by id, the grids of leaders listed grid by grid). Same answers
    /// as [`get`](Self::get).
    pub(crate) fn cursor<'k, K: Fn(u32) -> Option<&'k str>>(&self, key: K) -> Cursor<'_, K> {
        Cursor {
            index: self,
            key,
            at: 0,
        }
    }

    /// The position of the element whose key is `k`; `key` reads the elements the index was
    /// built from.
    pub(crate) fn get<'k>(&self, key: impl Fn(u32) -> Option<&'k str>, k: &str) -> Option<u32> {
        self.table
            .find(hash_str(k), |&j| key(j) == Some(k))
            .copied()
    }
}

/// The keys of a slice, for a [`KeyIndex`]: `key` of element `i`.
pub(crate) fn keys_of<'k, T>(
    items: &'k [T],
    key: impl Fn(&'k T) -> &'k str,
) -> impl Fn(u32) -> Option<&'k str> {
    move |i| items.get(i as usize).map(&key)
}

/// See [`KeyIndex::cursor`].
pub(crate) struct Cursor<'a, K> {
    index: &'a KeyIndex,
    key: K,
    at: u32,
}

impl<'k, K: Fn(u32) -> Option<&'k str>> Cursor<'_, K> {
    /// Positions looked at around the previous answer before hashing.
    const NEAR: [i32; 8] = [0, 1, 2, 3, 4, -1, -2, -3];

    pub(crate) fn get(&mut self, k: &str) -> Option<u32> {
        // With every key once, the element holding `k` is the answer; with repeated keys the
        // last of them is, which only the table knows.
        if !self.index.repeats {
            for d in Self::NEAR {
                let Some(i) = self.at.checked_add_signed(d) else {
                    continue;
                };
                if (self.key)(i) == Some(k) {
                    self.at = i;
                    return Some(i);
                }
            }
        }
        let found = self.index.get(&self.key, k);
        if let Some(i) = found {
            self.at = i;
        }
        found
    }
}

/// A list of `u32` per owner (a grid), all lists back to back in one vector: list `g` is
/// `items[offsets[g]..offsets[g + 1]]`. One allocation instead of one per non-empty list.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lists {
    offsets: Vec<u32>,
    items: Vec<u32>,
}

impl Lists {
    /// `owners[i]` is the owner of item `i` (if any); each list holds its items in increasing
    /// order. Owners at or beyond `n` are ignored.
    pub(crate) fn group(n: usize, owners: &[Option<u32>]) -> Lists {
        let mut offsets = vec![0u32; n + 1];
        for &o in owners.iter().flatten() {
            if let Some(c) = offsets.get_mut(o as usize + 1) {
                *c += 1;
            }
        }
        for g in 0..n {
            offsets[g + 1] += offsets[g];
        }
        let mut next: Vec<u32> = offsets[..n].to_vec();
        let mut items = vec![0u32; offsets[n] as usize];
        for (i, o) in owners.iter().enumerate() {
            if let Some(slot) = o.and_then(|o| next.get_mut(o as usize)) {
                items[*slot as usize] = i as u32;
                *slot += 1;
            }
        }
        Lists { offsets, items }
    }

    pub(crate) fn get(&self, owner: u32) -> &[u32] {
        let o = owner as usize;
        match (self.offsets.get(o), self.offsets.get(o + 1)) {
            (Some(&a), Some(&b)) => self.items.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_index_finds_the_last_of_equal_keys() {
        let items = ["b", "a", "c", "a"];
        let ix = KeyIndex::build(items.len(), keys_of(&items, |s| *s));
        assert_eq!(ix.get(keys_of(&items, |s| *s), "a"), Some(3));
        assert_eq!(ix.get(keys_of(&items, |s| *s), "b"), Some(0));
        assert_eq!(ix.get(keys_of(&items, |s| *s), "c"), Some(2));
        assert_eq!(ix.get(keys_of(&items, |s| *s), "d"), None);
        assert_eq!(ix.get(keys_of(&items, |s| *s), ""), None);
    }

    #[test]
    fn cursors_answer_as_the_table() {
        let items: Vec<String> = (0..500)
            .map(|i| format!("k{:04}", (i * 7919) % 1000))
            .collect();
        let ix = KeyIndex::build(items.len(), keys_of(&items, String::as_str));
        let mut cursor = ix.cursor(keys_of(&items, String::as_str));
        let queries = (0..1000)
            .map(|i| format!("k{i:04}"))
            .chain(items.iter().cloned())
            .chain(items.iter().rev().cloned())
            .chain(["".to_string(), "k".to_string()]);
        for q in queries {
            assert_eq!(
                cursor.get(&q),
                ix.get(keys_of(&items, String::as_str), &q),
                "{q}"
            );
        }
        // Repeated keys: the last one, near or far.
        let items = ["a", "b", "a", "c", "a", "b"];
        let ix = KeyIndex::build(items.len(), keys_of(&items, |s| *s));
        let mut cursor = ix.cursor(keys_of(&items, |s| *s));
        for q in ["a", "a", "b", "c", "b", "a", "d"] {
            assert_eq!(cursor.get(q), ix.get(keys_of(&items, |s| *s), q), "{q}");
        }
    }

    #[test]
    fn lists_keep_item_order() {
        let owners = [Some(2), None, Some(0), Some(2), Some(9), Some(0)];
        let lists = Lists::group(3, &owners);
        assert_eq!(lists.get(0), &[2, 5]);
        assert_eq!(lists.get(1), &[] as &[u32]);
        assert_eq!(lists.get(2), &[0, 3]);
        assert_eq!(lists.get(3), &[] as &[u32]);
        assert_eq!(Lists::default().get(0), &[] as &[u32]);
    }
}
