//! Rows of strings kept back to back in one text buffer.
//!
//! A city of a million buildings holds some ten million short strings (codes, names, addresses,
//! people's details). As `String`s each costs a 24-byte header and an allocation of its own,
//! more than its text; here a string costs a four-byte end.

/// Rows of `N` optional strings each (a grid's code, name and English name, say) in one text
/// buffer. A row's strings' ends sit beside its start, so reading a row costs two cache misses
/// (its entry, its text): an answer reads a dozen rows, and at city scale each read misses.
///
/// A row holds at most 2 GiB of text (no stored record comes near): a string that would end
/// beyond that is cut to fit, at a character boundary.
#[derive(Debug, Clone)]
pub struct TextTable<const N: usize> {
    text: String,
    rows: Vec<Row<N>>,
}

#[derive(Debug, Clone, Copy)]
struct Row<const N: usize> {
    /// Where the row's text starts in the buffer.
    start: usize,
    /// Where each string ends, counted from `start`, with [`PRESENT`] set unless absent.
    ends: [u32; N],
}

impl<const N: usize> Default for TextTable<N> {
    fn default() -> Self {
        TextTable::with_capacity(0, 0)
    }
}

impl<const N: usize> TextTable<N> {
    /// An empty table with room for `rows` rows and `bytes` of text.
    pub fn with_capacity(rows: usize, bytes: usize) -> TextTable<N> {
        TextTable {
            text: String::with_capacity(bytes),
            rows: Vec::with_capacity(rows),
        }
    }

    /// Appends a row; its index is the number of rows before it.
    pub fn push(&mut self, strings: [Option<&str>; N]) {
        let start = self.text.len();
        let ends = strings.map(|s| push_string(&mut self.text, start, s));
        self.rows.push(Row { start, ends });
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// String `k` of row `i`; `None` when it is absent or either is out of range.
    pub fn get(&self, i: usize, k: usize) -> Option<&str> {
        let row = self.rows.get(i)?;
        let text = self.text.get(row.start..)?;
        string(text, &row.ends, k)
    }

    /// String `k` of row `i`, or "" when absent.
    pub fn text(&self, i: usize, k: usize) -> &str {
        self.get(i, k).unwrap_or("")
    }

    /// Starts loading row `i`'s entry into the cache (see [`crate::memory::prefetch`]).
    pub fn prefetch_row(&self, i: usize) {
        if let Some(row) = self.rows.get(i..) {
            crate::memory::prefetch(row.as_ptr());
        }
    }

    /// Starts loading row `i`'s text into the cache; reads the row's entry.
    pub fn prefetch_text(&self, i: usize) {
        if let Some(row) = self.rows.get(i) {
            crate::memory::prefetch(self.text.as_ptr().wrapping_add(row.start));
        }
    }

    /// Every string of row `i` (all `None` past the end), in one read of the row.
    pub fn row(&self, i: usize) -> [Option<&str>; N] {
        let Some(row) = self.rows.get(i) else {
            return [None; N];
        };
        let text = self.text.get(row.start..).unwrap_or("");
        std::array::from_fn(|k| string(text, &row.ends, k))
    }
}

/// Appends `s` to `text` (cut to the row's room) and gives its end counted from `row_start`,
/// flagged [`PRESENT`] when `s` is.
fn push_string(text: &mut String, row_start: usize, s: Option<&str>) -> u32 {
    let room = ROW_TEXT_MAX - (text.len() - row_start);
    let s = s.map(|s| cut(s, room));
    text.push_str(s.unwrap_or(""));
    // At most ROW_TEXT_MAX: fits the 31 bits below the flag.
    let end = (text.len() - row_start) as u32;
    end | if s.is_some() { PRESENT } else { 0 }
}

/// Rows of any number of optional strings in one buffer (a building's addresses and aliases,
/// say); the caller decides what each position means. A row's strings' ends are in a table of
/// their own: a read costs a cache miss more than in a [`TextTable`].
///
/// A row holds at most 2 GiB of text (no stored record comes near): a string that would end
/// beyond that is cut to fit, at a character boundary.
#[derive(Debug, Clone, Default)]
pub struct TextRows {
    text: String,
    /// Per string: where it ends, counted from the start of its row's text (it starts where
    /// the one before ends), with [`PRESENT`] set unless the string is absent (`None`, told
    /// apart from `Some("")`). Four bytes a string instead of eight.
    ends: Vec<u32>,
    /// Per row: where its text starts in `text`; then one more, the end of the last row.
    text_starts: Vec<usize>,
    /// Per row: its first string in `ends`; then one more.
    string_starts: Vec<u32>,
}

/// Flag on an end: the string is present.
const PRESENT: u32 = 1 << 31;
/// The most text a row holds, in bytes.
const ROW_TEXT_MAX: usize = (PRESENT - 1) as usize;

impl TextRows {
    /// An empty table with room for about `rows` rows of `strings` strings and `bytes` of text.
    pub fn with_capacity(rows: usize, strings: usize, bytes: usize) -> TextRows {
        let mut table = TextRows {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(strings),
            text_starts: Vec::with_capacity(rows + 1),
            string_starts: Vec::with_capacity(rows + 1),
        };
        table.text_starts.push(0);
        table.string_starts.push(0);
        table
    }

    /// Appends a row; its index is the number of rows before it.
    pub fn push<'s>(&mut self, strings: impl IntoIterator<Item = Option<&'s str>>) {
        if self.text_starts.is_empty() {
            self.text_starts.push(self.text.len());
            self.string_starts.push(0);
        }
        let row_start = self.text.len();
        for s in strings {
            let end = push_string(&mut self.text, row_start, s);
            self.ends.push(end);
        }
        self.text_starts.push(self.text.len());
        // More than four billion strings would take 16 GB of ends first.
        self.string_starts
            .push(u32::try_from(self.ends.len()).unwrap_or(u32::MAX));
    }

    pub fn len(&self) -> usize {
        self.text_starts.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Starts loading row `i`'s places in the tables into the cache.
    pub fn prefetch_row(&self, i: usize) {
        if i < self.len() {
            crate::memory::prefetch(self.string_starts.as_ptr().wrapping_add(i));
            crate::memory::prefetch(self.text_starts.as_ptr().wrapping_add(i));
        }
    }

    /// Starts loading row `i`'s ends and text into the cache; reads its places.
    pub fn prefetch_text(&self, i: usize) {
        if let (Some(&s), Some(&t)) = (self.string_starts.get(i), self.text_starts.get(i)) {
            crate::memory::prefetch(self.ends.as_ptr().wrapping_add(s as usize));
            crate::memory::prefetch(self.text.as_ptr().wrapping_add(t));
        }
    }

    /// Row `i`, or an empty row past the end.
    pub fn row(&self, i: usize) -> TextRow<'_> {
        let strings = match (self.string_starts.get(i), self.string_starts.get(i + 1)) {
            (Some(&a), Some(&b)) => (a as usize, b as usize),
            _ => (0, 0),
        };
        let text = match (self.text_starts.get(i), self.text_starts.get(i + 1)) {
            (Some(&a), Some(&b)) => self.text.get(a..b).unwrap_or(""),
            _ => "",
        };
        TextRow {
            text,
            ends: self.ends.get(strings.0..strings.1).unwrap_or(&[]),
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// String `k` of a row: `text` is the row's text, `ends` its strings' ends.
fn string<'a>(text: &'a str, ends: &[u32], k: usize) -> Option<&'a str> {
    let end = *ends.get(k)?;
    if end & PRESENT == 0 {
        return None;
    }
    let start = match k.checked_sub(1) {
        Some(before) => ends[before] & !PRESENT,
        None => 0,
    };
    text.get(start as usize..(end & !PRESENT) as usize)
}

/// One row of a [`TextRows`], borrowed.
#[derive(Debug, Clone, Copy)]
pub struct TextRow<'a> {
    /// The row's text.
    text: &'a str,
    /// The row's strings' ends, relative to `text`.
    ends: &'a [u32],
}

impl<'a> TextRow<'a> {
    /// The `k`-th string of the row; `None` when it is absent or past the row's end.
    pub fn get(&self, k: usize) -> Option<&'a str> {
        string(self.text, self.ends, k)
    }

    /// The `k`-th string, or "" when absent.
    pub fn text(&self, k: usize) -> &'a str {
        self.get(k).unwrap_or("")
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The strings from position `from` to `to` (exclusive, clamped to the row), absent ones
    /// read as "".
    pub fn range(&self, from: usize, to: usize) -> TextRange<'a> {
        let first = from.min(self.len());
        let last = to.clamp(first, self.len());
        TextRange {
            row: *self,
            first,
            last,
        }
    }
}

/// A run of strings of one row, e.g. a building's addresses: iterates and serialises as a
/// JSON array of strings.
#[derive(Debug, Clone, Copy)]
pub struct TextRange<'a> {
    row: TextRow<'a>,
    first: usize,
    last: usize,
}

impl<'a> TextRange<'a> {
    pub fn len(&self) -> usize {
        self.last - self.first
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn first(&self) -> Option<&'a str> {
        self.iter().next()
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a str> + 'a {
        let row = self.row;
        (self.first..self.last).map(move |k| row.text(k))
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_string).collect()
    }
}

impl serde::Serialize for TextRange<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_back_as_pushed_with_absent_and_empty_strings_told_apart() {
        let rows: Vec<Vec<Option<&str>>> = vec![
            vec![Some("B001"), Some("恒隆广场"), None, Some("南京西路1266号")],
            vec![],
            vec![Some(""), None, Some("")],
            vec![Some("Plaza 66")],
        ];
        let mut table = TextRows::default();
        for r in &rows {
            table.push(r.iter().copied());
        }
        assert_eq!(table.len(), rows.len());
        for (i, r) in rows.iter().enumerate() {
            let row = table.row(i);
            assert_eq!(row.len(), r.len(), "row {i}");
            for (k, s) in r.iter().enumerate() {
                assert_eq!(row.get(k), *s, "row {i} string {k}");
                assert_eq!(row.text(k), s.unwrap_or(""));
            }
            assert_eq!(row.get(r.len()), None, "past the end of row {i}");
        }
        let past = table.row(rows.len());
        assert!(past.is_empty());
        assert_eq!(past.get(0), None);
    }

    /// Prefetching is a hint: any row, in range or far past the end, is safe to ask for and
    /// changes nothing read afterwards.
    #[test]
    fn prefetching_any_row_changes_nothing() {
        let mut rows = TextRows::default();
        rows.push([Some("南京西路1266号"), None]);
        let mut table = TextTable::<2>::default();
        table.push([Some("B001"), None]);
        for i in [0, 1, 2, usize::MAX - 1, usize::MAX] {
            rows.prefetch_row(i);
            rows.prefetch_text(i);
            table.prefetch_row(i);
            table.prefetch_text(i);
        }
        assert_eq!(rows.row(0).get(0), Some("南京西路1266号"));
        assert_eq!(table.row(0), [Some("B001"), None]);
        assert_eq!(table.row(1), [None, None]);
    }

    #[test]
    fn table_rows_read_back_as_pushed() {
        let rows = [
            [Some("310106001"), Some("南京西路街道"), None],
            [Some(""), None, Some("")],
            [None, None, None],
            [Some("B1"), Some("Plaza 66"), Some("恒隆广场")],
        ];
        let mut table = TextTable::<3>::default();
        for r in rows {
            table.push(r);
        }
        assert_eq!(table.len(), rows.len());
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(table.row(i), *r, "row {i}");
            for (k, s) in r.iter().enumerate() {
                assert_eq!(table.get(i, k), *s, "row {i} string {k}");
                assert_eq!(table.text(i, k), s.unwrap_or(""));
            }
            assert_eq!(table.get(i, 3), None, "past the end of row {i}");
        }
        assert_eq!(table.row(rows.len()), [None; 3]);
        assert_eq!(table.get(rows.len(), 0), None);
    }

    #[test]
    fn a_cut_keeps_whole_characters() {
        assert_eq!(cut("南京西路", 12), "南京西路");
        assert_eq!(cut("南京西路", 7), "南京");
        assert_eq!(cut("南京西路", 2), "");
        assert_eq!(cut("Plaza 66", 5), "Plaza");
    }

    #[test]
    fn a_range_iterates_and_serialises_as_a_json_array() {
        let mut table = TextRows::with_capacity(1, 4, 64);
        table.push([Some("id"), Some("南京西路1266号"), None, Some("Lane 5")]);
        let row = table.row(0);
        let range = row.range(1, 4);
        assert_eq!(range.len(), 3);
        assert_eq!(range.first(), Some("南京西路1266号"));
        assert_eq!(range.to_vec(), vec!["南京西路1266号", "", "Lane 5"]);
        assert_eq!(
            serde_json::to_string(&range).expect("serialises"),
            r#"["南京西路1266号","","Lane 5"]"#
        );
        assert!(row.range(3, 1).is_empty(), "a reversed range is empty");
        assert_eq!(row.range(2, 99).len(), 2, "clamped to the row");
        assert!(row.range(9, 12).is_empty());
    }
}
