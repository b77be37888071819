//! The address and building-name index.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};

use hashbrown::HashTable;

use super::parse::{Parsed, parse, push_sub};
use super::road::{RoadKey, analyze_zh_road, zh_base_variants};
use super::text::{name_key, push_name_key};
use super::{AddressError, AddressHit, AddressMiss, MatchKind, Suggestion};

/// Most suggestions a miss carries.
const MAX_SUGGESTIONS: usize = 5;
/// Most pinyin readings a Chinese road is registered under.
const MAX_READINGS: usize = 8;
/// Entries looked at on each side of the query's house number.
const NEAR_WINDOW: usize = 16;
/// Least Jaro-Winkler similarity for a road or name to be suggested.
const MIN_ROAD_SIMILARITY: f64 = 0.75;
const MIN_NAME_SIMILARITY: f64 = 0.75;
const NO_NEXT: u32 = u32::MAX;

/// FxHash-style hasher: the keys are built from the trusted snapshot, queries
/// only probe, so a fast non-keyed hash is fine.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            self.add(u64::from_le_bytes(b));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b) ^ ((rest.len() as u64) << 59));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct AddrKey {
    road: u32,
    /// 0: no lane.
    lane: u32,
    /// 0: the whole lane (an address like 南京西路1394弄).
    number: u32,
    /// Packed letters, 0: none.
    sub: u32,
}

#[derive(Debug, Clone)]
struct Road {
    key: RoadKey,
    /// Chinese name as indexed (南京西路); None for roads indexed in English.
    zh: Option<Box<str>>,
    /// Entry ids sorted by position along the road.
    entries: Vec<u32>,
}

impl Road {
    fn display(&self) -> Cow<'_, str> {
        match &self.zh {
            Some(zh) => Cow::Borrowed(zh),
            None => Cow::Owned(self.key.english()),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct RoadRef {
    road: u32,
    /// Registered under its most common reading (not another pinyin reading).
    primary: bool,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    road: u32,
    lane: u32,
    number: u32,
    sub: u32,
    building: u32,
    /// Next entry with the same key (the same address given to several buildings).
    next: u32,
}

impl Entry {
    /// Position along the road: a lane sits at its lane number.
    fn pos(&self) -> u32 {
        if self.lane != 0 {
            self.lane
        } else {
            self.number
        }
    }
}

/// A building name or alias. Its text lives in [`Tables::name_text`]: no allocation per name
/// (an index of a million buildings holds four million names).
#[derive(Debug, Clone, Copy)]
struct NameEntry {
    /// The name as given, trimmed: `name_text[display.0..display.0 + display.1]`.
    display: (u32, u32),
    /// The normalised key ([`name_key`]); the same span as `display` when they are equal.
    key: (u32, u32),
    chars: u32,
    building: u32,
    /// Next entry with the same key, in the order added.
    next: u32,
}

fn hash_key(key: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(key.as_bytes());
    h.finish()
}

#[derive(Debug, Clone, Default)]
struct Tables {
    roads: Vec<Road>,
    road_keys: FxMap<RoadKey, Vec<RoadRef>>,
    zh_roads: FxMap<Box<str>, u32>,
    addrs: FxMap<AddrKey, u32>,
    entries: Vec<Entry>,
    names: Vec<NameEntry>,
    /// The text of every name and key, back to back.
    name_text: String,
    /// Name keys to their first entry (the others follow by [`NameEntry::next`]), hashed by
    /// [`hash_key`]. Filled by [`AddressIndexBuilder::build`].
    name_map: HashTable<u32>,
}

/// Appends `s` to the name text, as a span (None when the text would outgrow a u32).
fn push_text(text: &mut String, s: &str) -> Option<(u32, u32)> {
    let start = u32::try_from(text.len()).ok()?;
    let len = u32::try_from(s.len()).ok()?;
    start.checked_add(len)?;
    text.push_str(s);
    Some((start, len))
}

/// The text of a span of [`Tables::name_text`].
fn span(text: &str, (start, len): (u32, u32)) -> &str {
    text.get(start as usize..start as usize + len as usize)
        .unwrap_or("")
}

impl Tables {
    fn text(&self, s: (u32, u32)) -> &str {
        span(&self.name_text, s)
    }

    fn name_key(&self, n: &NameEntry) -> &str {
        self.text(n.key)
    }

    fn name_display(&self, n: &NameEntry) -> &str {
        self.text(n.display)
    }

    /// The entries named by a key, in the order added.
    fn names_with_key(&self, key: &str) -> Vec<&NameEntry> {
        let mut out = Vec::new();
        let Some(&first) = self.name_map.find(hash_key(key), |&f| {
            self.names
                .get(f as usize)
                .is_some_and(|n| self.name_key(n) == key)
        }) else {
            return out;
        };
        let mut cur = first;
        while let Some(n) = self.names.get(cur as usize) {
            out.push(n);
            if n.next == NO_NEXT {
                break;
            }
            cur = n.next;
        }
        out
    }
}

/// Collects addresses and names, then [`build`](Self::build)s the index.
#[derive(Debug, Clone, Default)]
pub struct AddressIndexBuilder {
    t: Tables,
    /// The [`hash_key`] of each name added, by position. Names are only collected as they
    /// come; grouping them by key waits for [`build`](Self::build), where it is done in one
    /// go, in hash order (a table of millions of names filled name by name spends its time
    /// waiting for memory).
    name_hashes: Vec<u64>,
    /// Scratch for the key of the name being added.
    key: String,
}

impl AddressIndexBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A door-plate address of building number `building` (an index into the
    /// snapshot's building list). An address may name a whole lane
    /// (南京西路1394弄). Adding the same address for the same building twice is
    /// a no-op; for another building, lookups of it become ambiguous.
    pub fn add_address(&mut self, address: &str, building: u32) -> Result<(), AddressError> {
        let p = parse(address)?;
        if p.number.is_none() && p.lane.is_none() {
            return Err(AddressError::NoHouseNumber);
        }
        let road = self.road_for(&p);
        let key = AddrKey {
            road,
            lane: p.lane.unwrap_or(0),
            number: p.number.unwrap_or(0),
            sub: p.sub,
        };
        let t = &mut self.t;
        let id = u32::try_from(t.entries.len()).unwrap_or(NO_NEXT);
        if id == NO_NEXT {
            return Err(AddressError::UnknownForm("the index is full".into()));
        }
        let entry = Entry {
            road,
            lane: key.lane,
            number: key.number,
            sub: key.sub,
            building,
            next: NO_NEXT,
        };
        match t.addrs.get(&key) {
            None => {
                t.addrs.insert(key, id);
                t.entries.push(entry);
            }
            Some(&first) => {
                let mut cur = first as usize;
                while let Some(e) = t.entries.get(cur) {
                    if e.building == building {
                        return Ok(());
                    }
                    if e.next == NO_NEXT {
                        break;
                    }
                    cur = e.next as usize;
                }
                if let Some(e) = t.entries.get_mut(cur) {
                    e.next = id;
                }
                t.entries.push(entry);
            }
        }
        Ok(())
    }

    fn road_for(&mut self, p: &Parsed) -> u32 {
        let t = &mut self.t;
        if let Some(zh) = &p.road_zh {
            if let Some(&id) = t.zh_roads.get(zh.as_str()) {
                return id;
            }
            let id = t.roads.len() as u32;
            t.roads.push(Road {
                key: p.road.clone(),
                zh: Some(zh.as_str().into()),
                entries: Vec::new(),
            });
            t.zh_roads.insert(zh.as_str().into(), id);
            register(&mut t.road_keys, p.road.clone(), id, true);
            if let Some(zr) = analyze_zh_road(zh) {
                for base in zh_base_variants(zr.base, MAX_READINGS) {
                    if base != p.road.base {
                        let key = RoadKey {
                            base,
                            ..p.road.clone()
                        };
                        register(&mut t.road_keys, key, id, false);
                    }
                }
            }
            id
        } else {
            if let Some(r) = t
                .road_keys
                .get(&p.road)
                .and_then(|refs| refs.iter().find(|r| r.primary))
            {
                return r.road;
            }
            let id = t.roads.len() as u32;
            t.roads.push(Road {
                key: p.road.clone(),
                zh: None,
                entries: Vec::new(),
            });
            register(&mut t.road_keys, p.road.clone(), id, true);
            id
        }
    }

    /// A building name or alias (Chinese or English): "恒隆广场", "Plaza 66".
    /// Names that normalise to nothing (only punctuation) are ignored.
    pub fn add_name(&mut self, name: &str, building: u32) {
        let display = name.trim();
        if display.chars().count() > super::MAX_QUERY_CHARS {
            return;
        }
        let mut key = std::mem::take(&mut self.key);
        key.clear();
        push_name_key(display, &mut key);
        if !key.is_empty() {
            self.add_name_key(display, &key, building);
        }
        self.key = key;
    }

    /// Room for about `addresses` more addresses and `names` more names of `name_bytes` bytes
    /// in all (an index of a city is built without growing its tables as it goes).
    pub fn reserve(&mut self, addresses: usize, names: usize, name_bytes: usize) {
        let t = &mut self.t;
        t.entries.reserve(addresses);
        t.addrs.reserve(addresses);
        t.names.reserve(names);
        self.name_hashes.reserve(names);
        // Keys are often the name itself; English names add a shorter key.
        t.name_text.reserve(name_bytes + name_bytes / 2);
    }

    fn add_name_key(&mut self, display: &str, key: &str, building: u32) {
        let t = &mut self.t;
        if t.names.len() >= NO_NEXT as usize {
            return;
        }
        let Some(display_span) = push_text(&mut t.name_text, display) else {
            return;
        };
        let key_span = if key == display {
            display_span
        } else {
            match push_text(&mut t.name_text, key) {
                Some(span) => span,
                None => return,
            }
        };
        t.names.push(NameEntry {
            display: display_span,
            key: key_span,
            chars: key.chars().count() as u32,
            building,
            next: NO_NEXT,
        });
        self.name_hashes.push(hash_key(key));
    }

    pub fn build(self) -> AddressIndex {
        let mut t = self.t;
        index_names(&mut t, self.name_hashes);
        for (i, e) in t.entries.iter().enumerate() {
            if let Some(r) = t.roads.get_mut(e.road as usize) {
                r.entries.push(i as u32);
            }
        }
        let entries = &t.entries;
        for r in &mut t.roads {
            r.entries.sort_unstable_by_key(|&i| {
                let e = &entries[i as usize];
                (e.pos(), e.lane, e.number, e.sub, e.building)
            });
            r.entries.shrink_to_fit();
        }
        t.addrs.shrink_to_fit();
        t.entries.shrink_to_fit();
        t.names.shrink_to_fit();
        t.name_text.shrink_to_fit();
        AddressIndex { t }
    }
}

/// Groups the names collected by key: drops a name when the entry before it with the same key
/// is of the same building (as if each name had been checked against the table when added),
/// chains the entries of each key in the order added, and fills the table. `hashes[i]` is the
/// hash of the key of `t.names[i]`.
fn index_names(t: &mut Tables, hashes: Vec<u64>) {
    let n = t.names.len().min(hashes.len());
    t.names.truncate(n);
    t.name_map = HashTable::with_capacity(n);
    // The table's bucket of a hash is its low bits: filling it in bucket order touches its
    // memory once, in order. Equal hashes end up together, in the order the names came.
    // Sorting the hashes rotated right by the bucket bits orders them by bucket first.
    let buckets = (t.name_map.capacity() as u64 + 1).next_power_of_two();
    let bits = buckets.trailing_zeros();
    let mut order: Vec<(u64, u32)> = hashes
        .iter()
        .take(n)
        .enumerate()
        .map(|(i, &h)| (h.rotate_right(bits), i as u32))
        .collect();
    drop(hashes);
    radix_sort(&mut order);

    // Runs of one hash; within a run, groups of one key (keys sharing a hash are sorted apart
    // first), each in the order added.
    let key_of = |names: &[NameEntry], i: u32| names.get(i as usize).map_or((0, 0), |n| n.key);
    let mut keep = vec![true; n];
    let mut start = 0;
    while start < order.len() {
        let end = run_end(&order, start);
        if end - start > 1 {
            let text = &t.name_text;
            let names = &t.names;
            let run = &mut order[start..end];
            let first = span(text, key_of(names, run[0].1));
            if !run.iter().all(|o| span(text, key_of(names, o.1)) == first) {
                run.sort_by(|a, b| {
                    span(text, key_of(names, a.1))
                        .cmp(span(text, key_of(names, b.1)))
                        .then(a.1.cmp(&b.1))
                });
            }
            // A name repeats when the name kept before it with the same key is of the same
            // building.
            let mut last: Option<(&str, u32)> = None;
            for o in run.iter() {
                let (key, building) =
                    (span(text, key_of(names, o.1)), names[o.1 as usize].building);
                if last.is_some_and(|(k, b)| k == key && b == building) {
                    keep[o.1 as usize] = false;
                } else {
                    last = Some((key, building));
                }
            }
        }
        start = end;
    }
    // Positions once the repeats are gone.
    let mut new_id = vec![NO_NEXT; n];
    let mut next = 0u32;
    for (i, k) in keep.iter().enumerate() {
        if *k {
            new_id[i] = next;
            next += 1;
        }
    }
    let mut i = 0;
    t.names.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    drop(keep);
    let mut start = 0;
    while start < order.len() {
        let end = run_end(&order, start);
        let mut from = start;
        while from < end {
            let first = new_id[order[from].1 as usize];
            let mut to = from + 1;
            let mut last = first;
            if end - start > 1 {
                let key = span(&t.name_text, key_of(&t.names, first));
                while to < end {
                    let id = new_id[order[to].1 as usize];
                    if id != NO_NEXT {
                        if span(&t.name_text, key_of(&t.names, id)) != key {
                            break;
                        }
                        t.names[last as usize].next = id;
                        last = id;
                    }
                    to += 1;
                }
            }
            let (names, text) = (&t.names, &t.name_text);
            t.name_map
                .insert_unique(order[from].0.rotate_left(bits), first, |&f| {
                    hash_key(span(text, key_of(names, f)))
                });
            from = to;
        }
        start = end;
    }
}

/// The end of the run of equal hashes starting at `start`.
fn run_end(order: &[(u64, u32)], start: usize) -> usize {
    let h = order[start].0;
    let mut end = start + 1;
    while end < order.len() && order[end].0 == h {
        end += 1;
    }
    end
}

/// Sorts by (key, position), as `sort_unstable` would: one counting pass on the top 16 bits of
/// the key, then each of the 65,536 small buckets sorted where it lies in memory.
fn radix_sort(v: &mut Vec<(u64, u32)>) {
    if v.len() < 1 << 16 {
        v.sort_unstable();
        return;
    }
    let digit = |x: &(u64, u32)| (x.0 >> 48) as usize;
    let mut starts = vec![0usize; (1 << 16) + 1];
    for x in v.iter() {
        starts[digit(x) + 1] += 1;
    }
    for d in 0..1 << 16 {
        starts[d + 1] += starts[d];
    }
    let mut at = starts.clone();
    let mut out = vec![(0u64, 0u32); v.len()];
    for x in v.iter() {
        let d = digit(x);
        out[at[d]] = *x;
        at[d] += 1;
    }
    for d in 0..1 << 16 {
        out[starts[d]..starts[d + 1]].sort_unstable();
    }
    *v = out;
}

fn register(map: &mut FxMap<RoadKey, Vec<RoadRef>>, key: RoadKey, road: u32, primary: bool) {
    let refs = map.entry(key).or_default();
    if let Some(r) = refs.iter_mut().find(|r| r.road == road) {
        r.primary |= primary;
    } else {
        refs.push(RoadRef { road, primary });
    }
}

/// English rendering of an address on a road given by its English name.
pub(crate) fn render_en(road: &str, lane: Option<u32>, number: Option<u32>, sub: u32) -> String {
    let mut s = String::with_capacity(road.len() + 24);
    match (lane, number) {
        (None, Some(n)) => {
            let _ = write!(s, "{n}");
            push_sub(&mut s, sub);
            s.push(' ');
        }
        (Some(l), Some(n)) => {
            let _ = write!(s, "No. {n}");
            push_sub(&mut s, sub);
            let _ = write!(s, ", Lane {l}, ");
        }
        (Some(l), None) => {
            let _ = write!(s, "Lane {l}, ");
        }
        (None, None) => {}
    }
    s.push_str(road);
    s
}

/// A few ids without allocating.
#[derive(Default)]
struct Small {
    ids: [u32; 8],
    len: usize,
}

impl Small {
    fn push(&mut self, id: u32) {
        if self.len < self.ids.len() && !self.as_slice().contains(&id) {
            self.ids[self.len] = id;
            self.len += 1;
        }
    }
    fn as_slice(&self) -> &[u32] {
        &self.ids[..self.len]
    }
    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The immutable address and name index. `Send + Sync`; share it by `Arc`.
#[derive(Debug, Clone)]
pub struct AddressIndex {
    t: Tables,
}

impl AddressIndex {
    /// This index's addresses with the names of `other` (this index's own names are left
    /// out). Names and addresses are indexed apart, so the names of a city and its addresses
    /// can be indexed on two threads and joined here: the index is the one a single builder
    /// given the same addresses and the same names would make.
    pub fn with_names_of(mut self, other: AddressIndex) -> AddressIndex {
        let theirs = other.t;
        self.t.names = theirs.names;
        self.t.name_text = theirs.name_text;
        self.t.name_map = theirs.name_map;
        self
    }

    /// Number of indexed entries: distinct (address, building) pairs plus
    /// distinct (name, building) pairs.
    pub fn len(&self) -> usize {
        self.t.entries.len() + self.t.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of distinct (address, building) pairs.
    pub fn address_count(&self) -> usize {
        self.t.entries.len()
    }

    /// Number of distinct (name, building) pairs.
    pub fn name_count(&self) -> usize {
        self.t.names.len()
    }

    /// Resolves an address (Chinese, pinyin or English) or a building name.
    pub fn lookup(&self, query: &str) -> Result<AddressHit, AddressMiss> {
        match parse(query) {
            Err(e @ (AddressError::Empty | AddressError::TooLong { .. })) => Err(AddressMiss {
                reason: e.to_string(),
                suggestions: Vec::new(),
            }),
            Err(e) => match self.exact_name(query) {
                Some(r) => r,
                None => Err(self.name_miss(query, &e)),
            },
            Ok(p) => match self.lookup_parsed(&p) {
                Ok(hit) => Ok(hit),
                Err(miss) => match self.exact_name(query) {
                    Some(r) => r,
                    None => Err(miss),
                },
            },
        }
    }

    fn entry(&self, id: u32) -> Option<&Entry> {
        self.t.entries.get(id as usize)
    }

    fn entry_text(&self, id: u32) -> String {
        let Some(e) = self.entry(id) else {
            return String::new();
        };
        let Some(road) = self.t.roads.get(e.road as usize) else {
            return String::new();
        };
        let lane = (e.lane != 0).then_some(e.lane);
        let number = (e.number != 0).then_some(e.number);
        match &road.zh {
            Some(zh) => {
                let mut s = String::with_capacity(zh.len() + 16);
                s.push_str(zh);
                if let Some(l) = lane {
                    let _ = write!(s, "{l}弄");
                }
                if let Some(n) = number {
                    let _ = write!(s, "{n}号");
                }
                push_sub(&mut s, e.sub);
                s
            }
            None => render_en(&road.key.english(), lane, number, e.sub),
        }
    }

    fn hit(&self, id: u32) -> AddressHit {
        AddressHit {
            building: self.entry(id).map_or(0, |e| e.building),
            matched: self.entry_text(id),
            kind: MatchKind::Address,
        }
    }

    fn suggestion(&self, id: u32) -> Suggestion {
        Suggestion {
            building: self.entry(id).map_or(0, |e| e.building),
            text: self.entry_text(id),
        }
    }

    fn push_refs(&self, key: &RoadKey, only_english: bool, out: &mut Small) {
        let Some(refs) = self.t.road_keys.get(key) else {
            return;
        };
        let any_primary = refs.iter().any(|r| r.primary);
        for r in refs {
            if !r.primary && any_primary {
                continue;
            }
            let english = self
                .t
                .roads
                .get(r.road as usize)
                .is_some_and(|road| road.zh.is_none());
            if !only_english || english {
                out.push(r.road);
            }
        }
    }

    /// Roads the query may mean. A Chinese road name must match a Chinese
    /// road exactly (a homophone is only suggested, never taken).
    fn candidate_roads(&self, p: &Parsed) -> Small {
        let mut c = Small::default();
        if let Some(zh) = &p.road_zh {
            if let Some(&id) = self.t.zh_roads.get(zh.as_str()) {
                c.push(id);
                return c;
            }
            // Extra text before the road name: 恒隆广场南京西路1266号.
            for (i, _) in zh.char_indices().skip(1) {
                let s = &zh[i..];
                if s.chars().count() < 3 {
                    break;
                }
                if let Some(&id) = self.t.zh_roads.get(s) {
                    c.push(id);
                    return c;
                }
            }
            self.push_refs(&p.road, true, &mut c);
            return c;
        }
        self.push_refs(&p.road, false, &mut c);
        if c.is_empty()
            && let Some(alt) = &p.road_alt
        {
            self.push_refs(alt, false, &mut c);
        }
        c
    }

    /// Entries with this exact key (all buildings), falling back to no sub-number.
    fn probe(&self, road: u32, lane: Option<u32>, number: u32, sub: u32, hits: &mut Small) {
        let key = AddrKey {
            road,
            lane: lane.unwrap_or(0),
            number,
            sub,
        };
        let mut cur = self.t.addrs.get(&key).copied();
        if cur.is_none() && sub != 0 {
            cur = self.t.addrs.get(&AddrKey { sub: 0, ..key }).copied();
        }
        while let Some(id) = cur {
            let Some(e) = self.entry(id) else { break };
            if !hits
                .as_slice()
                .iter()
                .any(|&h| self.entry(h).is_some_and(|x| x.building == e.building))
            {
                hits.push(id);
            }
            cur = (e.next != NO_NEXT).then_some(e.next);
        }
    }

    fn road_display(&self, p: &Parsed, roads: &[u32]) -> String {
        if let Some(zh) = &p.road_zh {
            return zh.clone();
        }
        match roads.first().and_then(|&r| self.t.roads.get(r as usize)) {
            Some(r) => r.display().into_owned(),
            None => p.road.english(),
        }
    }

    fn lookup_parsed(&self, p: &Parsed) -> Result<AddressHit, AddressMiss> {
        let roads = self.candidate_roads(p);
        if roads.is_empty() {
            return Err(self.unknown_road(p));
        }
        let mut hits = Small::default();
        if let Some(n) = p.number {
            for &r in roads.as_slice() {
                self.probe(r, p.lane, n, p.sub, &mut hits);
            }
            if hits.is_empty()
                && let Some((lane, n)) = p.alt
            {
                for &r in roads.as_slice() {
                    self.probe(r, lane, n, 0, &mut hits);
                }
            }
        } else if let Some(lane) = p.lane {
            // A whole lane: its own entry, or the one building in it.
            for &r in roads.as_slice() {
                self.probe(r, Some(lane), 0, 0, &mut hits);
            }
            if hits.is_empty() {
                let in_lane = self.lane_entries(roads.as_slice(), lane);
                for &id in &in_lane {
                    let b = self.entry(id).map(|e| e.building);
                    if !hits
                        .as_slice()
                        .iter()
                        .any(|&h| self.entry(h).map(|e| e.building) == b)
                    {
                        hits.push(id);
                    }
                }
                if hits.len > 1 {
                    let mut buildings: Vec<u32> = in_lane
                        .iter()
                        .filter_map(|&i| self.entry(i))
                        .map(|e| e.building)
                        .collect();
                    buildings.sort_unstable();
                    buildings.dedup();
                    let mut suggestions: Vec<Suggestion> =
                        in_lane.iter().map(|&i| self.suggestion(i)).collect();
                    suggestions.truncate(MAX_SUGGESTIONS);
                    return Err(AddressMiss {
                        reason: format!(
                            "lane {lane} of {} has {} buildings; give the house number",
                            self.road_display(p, roads.as_slice()),
                            buildings.len()
                        ),
                        suggestions,
                    });
                }
            }
        }
        match hits.len {
            1 => return Ok(self.hit(hits.ids[0])),
            0 => {}
            n => {
                let mut suggestions: Vec<Suggestion> = hits
                    .as_slice()
                    .iter()
                    .map(|&i| self.suggestion(i))
                    .collect();
                suggestions.sort_by(|a, b| a.text.cmp(&b.text).then(a.building.cmp(&b.building)));
                return Err(AddressMiss {
                    reason: format!("the address is given to {n} different buildings in the atlas"),
                    suggestions,
                });
            }
        }
        let road = self.road_display(p, roads.as_slice());
        let reason = match (p.lane, p.number) {
            (None, None) => {
                format!("'{road}' is in the atlas, but the address has no house number")
            }
            (Some(l), None) => format!("no lane {l} on {road} in the atlas"),
            (Some(l), Some(n)) => format!("no number {n} in lane {l} of {road} in the atlas"),
            (None, Some(n)) => {
                let mut s = format!("no number {n}");
                push_sub(&mut s, p.sub);
                let _ = write!(s, " on {road} in the atlas");
                s
            }
        };
        let near = self.nearest(roads.as_slice(), p.lane, p.number, MAX_SUGGESTIONS);
        Err(AddressMiss {
            reason,
            suggestions: near.into_iter().map(|(_, s)| s).collect(),
        })
    }

    fn lane_entries(&self, roads: &[u32], lane: u32) -> Vec<u32> {
        let mut out = Vec::new();
        for &r in roads {
            let Some(road) = self.t.roads.get(r as usize) else {
                continue;
            };
            let ids = &road.entries;
            let start = ids.partition_point(|&i| self.entry(i).is_some_and(|e| e.pos() < lane));
            for &id in &ids[start..] {
                let Some(e) = self.entry(id) else { break };
                if e.pos() != lane {
                    break;
                }
                if e.lane == lane {
                    out.push(id);
                }
            }
        }
        out
    }

    /// The indexed addresses nearest to a position on the given roads: same
    /// side of the road (parity) first, then distance, then text.
    fn nearest(
        &self,
        roads: &[u32],
        lane: Option<u32>,
        number: Option<u32>,
        limit: usize,
    ) -> Vec<((bool, u32, u32), Suggestion)> {
        let q_pos = lane.or(number).unwrap_or(0);
        let q_inner = if lane.is_some() {
            number.unwrap_or(0)
        } else {
            0
        };
        let mut cands: Vec<((bool, u32, u32), Suggestion)> = Vec::new();
        for &r in roads {
            let Some(road) = self.t.roads.get(r as usize) else {
                continue;
            };
            let ids = &road.entries;
            let at = ids.partition_point(|&i| self.entry(i).is_some_and(|e| e.pos() < q_pos));
            let lo = at.saturating_sub(NEAR_WINDOW);
            let hi = at.saturating_add(NEAR_WINDOW).min(ids.len());
            for &id in ids.get(lo..hi).unwrap_or(&[]) {
                let Some(e) = self.entry(id) else { continue };
                let other_side = q_pos != 0 && e.pos() % 2 != q_pos % 2;
                let score = (
                    other_side,
                    e.pos().abs_diff(q_pos),
                    if e.lane != 0 {
                        e.number.abs_diff(q_inner)
                    } else {
                        0
                    },
                );
                cands.push((score, self.suggestion(id)));
            }
        }
        cands.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| a.1.text.cmp(&b.1.text))
                .then(a.1.building.cmp(&b.1.building))
        });
        cands.dedup_by(|a, b| a.1 == b.1);
        cands.truncate(limit);
        cands
    }

    fn unknown_road(&self, p: &Parsed) -> AddressMiss {
        let shown = match &p.road_zh {
            Some(zh) => zh.clone(),
            None => p.road.english(),
        };
        let mut scored: Vec<(f64, u32, Cow<'_, str>)> = Vec::new();
        for (i, r) in self.t.roads.iter().enumerate() {
            let mut s = strsim::jaro_winkler(&p.road.base, &r.key.base);
            if let (Some(a), Some(b)) = (&p.road_zh, &r.zh) {
                s = s.max(strsim::jaro_winkler(a, b));
            }
            if s < MIN_ROAD_SIMILARITY {
                continue;
            }
            if r.key.direction == p.road.direction {
                s += 0.1;
            }
            if r.key.kind == p.road.kind {
                s += 0.05;
            }
            if r.key.ordinal == p.road.ordinal {
                s += 0.05;
            }
            scored.push((s, i as u32, r.display()));
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.2.cmp(&b.2)));
        scored.dedup_by(|a, b| a.2 == b.2);
        let mut picked: Vec<(f64, Suggestion)> = Vec::with_capacity(MAX_SUGGESTIONS);
        for (score, road, _) in scored.iter().take(MAX_SUGGESTIONS) {
            if let Some((_, s)) = self
                .nearest(&[*road], p.lane, p.number, 1)
                .into_iter()
                .next()
            {
                picked.push((*score, s));
            }
        }
        picked.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| a.1.text.cmp(&b.1.text))
                .then(a.1.building.cmp(&b.1.building))
        });
        let suggestions = picked.into_iter().map(|(_, s)| s).collect();
        AddressMiss {
            reason: format!("no road '{shown}' in the atlas"),
            suggestions,
        }
    }

    fn exact_name(&self, query: &str) -> Option<Result<AddressHit, AddressMiss>> {
        if self.t.name_map.is_empty() {
            return None;
        }
        let key = name_key(query);
        let names = self.t.names_with_key(&key);
        match names.as_slice() {
            [] => None,
            [n] => Some(Ok(AddressHit {
                building: n.building,
                matched: self.t.name_display(n).to_string(),
                kind: MatchKind::Name,
            })),
            many => {
                let mut suggestions: Vec<Suggestion> = many
                    .iter()
                    .map(|n| Suggestion {
                        text: self.t.name_display(n).to_string(),
                        building: n.building,
                    })
                    .collect();
                suggestions.sort_by(|a, b| a.text.cmp(&b.text).then(a.building.cmp(&b.building)));
                suggestions.truncate(MAX_SUGGESTIONS);
                Some(Err(AddressMiss {
                    reason: format!(
                        "the name '{}' is used by {} buildings",
                        query.trim(),
                        many.len()
                    ),
                    suggestions,
                }))
            }
        }
    }

    fn name_miss(&self, query: &str, err: &AddressError) -> AddressMiss {
        let key = name_key(query);
        let qn = key.chars().count() as u32;
        let slack = (qn / 2).max(3);
        // (similarity, display, building)
        let mut scored: Vec<(f64, &str, u32)> = Vec::new();
        if !key.is_empty() {
            for n in &self.t.names {
                if n.chars.abs_diff(qn) > slack {
                    continue;
                }
                let s = strsim::jaro_winkler(&key, self.t.name_key(n));
                if s >= MIN_NAME_SIMILARITY {
                    scored.push((s, self.t.name_display(n), n.building));
                }
            }
        }
        scored.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| a.1.cmp(b.1))
                .then(a.2.cmp(&b.2))
        });
        scored.dedup_by(|a, b| a.1 == b.1 && a.2 == b.2);
        let suggestions = scored
            .iter()
            .take(MAX_SUGGESTIONS)
            .map(|&(_, text, building)| Suggestion {
                text: text.to_string(),
                building,
            })
            .collect();
        AddressMiss {
            reason: format!(
                "'{}' is neither a readable address ({err}) nor a building name in the atlas",
                query.trim()
            ),
            suggestions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names as the index made them when each was checked against the table as it came:
    /// (display, key, building) in the order kept, and the positions per key in that order.
    type Model = (Vec<(String, String, u32)>, HashMap<String, Vec<usize>>);

    fn model(input: &[(String, u32)]) -> Model {
        let mut names: Vec<(String, String, u32)> = Vec::new();
        let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
        for (name, building) in input {
            let display = name.trim();
            if display.chars().count() > super::super::MAX_QUERY_CHARS {
                continue;
            }
            let key = name_key(display);
            if key.is_empty() {
                continue;
            }
            let ids = by_key.entry(key.clone()).or_default();
            if ids.last().is_some_and(|&i| names[i].2 == *building) {
                continue;
            }
            ids.push(names.len());
            names.push((display.to_string(), key, *building));
        }
        (names, by_key)
    }

    /// The chains of every key of the table, as lists of positions.
    fn chains(t: &Tables) -> Vec<Vec<usize>> {
        let mut out: Vec<Vec<usize>> = t
            .name_map
            .iter()
            .map(|&first| {
                let mut ids = vec![first as usize];
                while let Some(n) = t.names.get(*ids.last().unwrap_or(&0)) {
                    if n.next == NO_NEXT {
                        break;
                    }
                    ids.push(n.next as usize);
                }
                ids
            })
            .collect();
        out.sort();
        out
    }

    fn random_names(seed: u64, count: usize) -> Vec<(String, u32)> {
        let mut state = seed;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let words = [
            "Tower",
            "TOWER",
            " tower ",
            "恒隆广场",
            "恒隆 广场",
            "Plaza 66",
            "!!",
            "Kerry",
            "A",
            "a",
        ];
        let mut building = 0;
        (0..count)
            .map(|i| {
                // Mostly a building's names one after another, sometimes back to an earlier one.
                if next(3) == 0 {
                    building += 1;
                }
                let b = if next(10) == 0 {
                    next(building + 1) as u32
                } else {
                    building as u32
                };
                let w = words[next(words.len() as u64) as usize];
                let name = if next(4) == 0 {
                    format!("{w} {}", i % 7)
                } else {
                    w.to_string()
                };
                (name, b)
            })
            .collect()
    }

    #[test]
    fn radix_sort_sorts_as_sort_unstable() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let v: Vec<(u64, u32)> = (0..200_000u32)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Few distinct top bits and repeated keys, too.
                let key = if i % 3 == 0 { state % 1000 } else { state };
                (key, i)
            })
            .collect();
        let mut want = v.clone();
        want.sort_unstable();
        let mut got = v;
        radix_sort(&mut got);
        assert_eq!(got, want);
    }

    #[test]
    fn names_grouped_at_build_as_when_checked_one_by_one() {
        for seed in 1..40u64 {
            let input = random_names(seed * 7919, 20 + (seed as usize * 13) % 200);
            let (want, by_key) = model(&input);
            let mut b = AddressIndexBuilder::new();
            for (name, building) in &input {
                b.add_name(name, *building);
            }
            let ix = b.build();
            let got: Vec<(String, String, u32)> =
                ix.t.names
                    .iter()
                    .map(|n| {
                        (
                            ix.t.name_display(n).to_string(),
                            ix.t.name_key(n).to_string(),
                            n.building,
                        )
                    })
                    .collect();
            assert_eq!(got, want, "seed {seed}");
            for (key, ids) in &by_key {
                let found: Vec<usize> =
                    ix.t.names_with_key(key)
                        .iter()
                        .map(|n| {
                            ix.t.names
                                .iter()
                                .position(|m| std::ptr::eq(m, *n))
                                .unwrap_or(usize::MAX)
                        })
                        .collect();
                assert_eq!(&found, ids, "seed {seed}, key {key}");
            }
            let mut want_chains: Vec<Vec<usize>> = by_key.into_values().collect();
            want_chains.sort();
            assert_eq!(chains(&ix.t), want_chains, "seed {seed}");

            // Keys sharing a hash: the same groups, whatever the hashes.
            for modulus in [1u64, 3] {
                let mut b = AddressIndexBuilder::new();
                for (name, building) in &input {
                    b.add_name(name, *building);
                }
                let hashes: Vec<u64> = b.name_hashes.iter().map(|h| h % modulus).collect();
                let mut t = b.t;
                index_names(&mut t, hashes);
                assert_eq!(t.names.len(), want.len(), "seed {seed}");
                assert_eq!(chains(&t), want_chains, "seed {seed}, modulus {modulus}");
            }
        }
    }
}
