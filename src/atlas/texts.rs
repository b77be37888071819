//! Rows of strings kept back to back in one text buffer.
//!
//! A city of a million buildings holds some ten million short strings (codes, names, addresses,
//! people's details). As `String`s each costs a 24-byte header and an allocation of its own,
//! more than its text; here a string costs one `usize` end.

/// Rows of optional strings in one buffer. A row is a run of strings; the caller decides what
/// each position means (a grid's code, name and English name, say).
#[derive(Debug, Clone, Default)]
pub struct TextRows {
    text: String,
    /// Per string: where it ends in `text` (it starts where the one before ends), with
    /// [`PRESENT`] set unless the string is absent (`None`, told apart from `Some("")`).
    ends: Vec<usize>,
    /// Per row: the index of its first string in `ends`; then one more, the end of the last.
    rows: Vec<usize>,
}

/// Flag on an end: the string is present.
const PRESENT: usize = 1 << (usize::BITS - 1);

impl TextRows {
    /// An empty table with room for about `rows` rows of `strings` strings and `bytes` of text.
    pub fn with_capacity(rows: usize, strings: usize, bytes: usize) -> TextRows {
        let mut row_starts = Vec::with_capacity(rows + 1);
        row_starts.push(0);
        TextRows {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(strings),
            rows: row_starts,
        }
    }

    /// Appends a row; its index is the number of rows before it.
    pub fn push<'s>(&mut self, strings: impl IntoIterator<Item = Option<&'s str>>) {
        if self.rows.is_empty() {
            self.rows.push(0);
        }
        for s in strings {
            self.text.push_str(s.unwrap_or(""));
            self.ends
                .push(self.text.len() | if s.is_some() { PRESENT } else { 0 });
        }
        self.rows.push(self.ends.len());
    }

    pub fn len(&self) -> usize {
        self.rows.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`, or an empty row past the end.
    pub fn row(&self, i: usize) -> TextRow<'_> {
        let (first, last) = match (self.rows.get(i), self.rows.get(i + 1)) {
            (Some(&a), Some(&b)) => (a, b),
            _ => (0, 0),
        };
        TextRow {
            rows: self,
            first,
            last,
        }
    }

    /// Text bytes and table sizes on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity()
            + self.ends.capacity() * size_of::<usize>()
            + self.rows.capacity() * size_of::<usize>()
    }

    fn string(&self, k: usize) -> Option<&str> {
        let end = *self.ends.get(k)?;
        if end & PRESENT == 0 {
            return None;
        }
        let start = match k.checked_sub(1) {
            Some(before) => self.ends[before] & !PRESENT,
            None => 0,
        };
        self.text.get(start..end & !PRESENT)
    }
}

/// One row of a [`TextRows`], borrowed.
#[derive(Debug, Clone, Copy)]
pub struct TextRow<'a> {
    rows: &'a TextRows,
    first: usize,
    last: usize,
}

impl<'a> TextRow<'a> {
    /// The `k`-th string of the row; `None` when it is absent or past the row's end.
    pub fn get(&self, k: usize) -> Option<&'a str> {
        let at = self.first + k;
        if at >= self.last {
            return None;
        }
        self.rows.string(at)
    }

    /// The `k`-th string, or "" when absent.
    pub fn text(&self, k: usize) -> &'a str {
        self.get(k).unwrap_or("")
    }

    pub fn len(&self) -> usize {
        self.last - self.first
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The strings from position `from` to `to` (exclusive, clamped to the row), absent ones
    /// read as "".
    pub fn range(&self, from: usize, to: usize) -> TextRange<'a> {
        let first = (self.first + from).min(self.last);
        let last = (self.first + to).clamp(first, self.last);
        TextRange {
            rows: self.rows,
            first,
            last,
        }
    }
}

/// A run of strings of one row, e.g. a building's addresses: iterates and serialises as a
/// JSON array of strings.
#[derive(Debug, Clone, Copy)]
pub struct TextRange<'a> {
    rows: &'a TextRows,
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
        let rows = self.rows;
        (self.first..self.last).map(move |k| rows.string(k).unwrap_or(""))
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
