//! Character-level folding shared by the address parser and the name index.

use super::AddressError;

/// Longest query (in characters) that is looked at at all.
pub const MAX_QUERY_CHARS: usize = 200;

/// Rejects empty and over-long input before any other work is done.
pub(crate) fn check_len(query: &str) -> Result<(), AddressError> {
    // Every char is at most 4 bytes: a byte length beyond this is surely too long,
    // and we never count the characters of a huge string.
    if query.len() > MAX_QUERY_CHARS * 4 {
        return Err(AddressError::TooLong {
            max: MAX_QUERY_CHARS,
        });
    }
    if query.len() > MAX_QUERY_CHARS && query.chars().count() > MAX_QUERY_CHARS {
        return Err(AddressError::TooLong {
            max: MAX_QUERY_CHARS,
        });
    }
    if query
        .chars()
        .all(|c| c.is_whitespace() || fold_char(c) == ' ')
    {
        return Err(AddressError::Empty);
    }
    Ok(())
}

/// Folds one character: full-width ASCII forms become ASCII (the NFKC mapping of
/// U+FF01..U+FF5E and U+3000), ASCII letters become lower case, typographic
/// quotes and dashes become `'` and `-`, and a few traditional characters that
/// occur in address syntax become simplified.
#[inline]
pub(crate) fn fold_char(c: char) -> char {
    let c = match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' | '\u{00A0}' | '\u{2000}'..='\u{200B}' | '\u{202F}' | '\u{205F}' => ' ',
        '\u{2018}' | '\u{2019}' | '\u{201B}' | '\u{02BC}' | '\u{00B4}' | '\u{2032}' | '`' => '\'',
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '~' | '\u{301C}' => '-',
        '\u{3001}' => ',',
        '\u{3002}' | '\u{FF61}' => '.',
        '\u{3010}' | '\u{3014}' | '\u{300C}' | '\u{300E}' | '\u{3008}' | '\u{300A}' => '(',
        '\u{3011}' | '\u{3015}' | '\u{300D}' | '\u{300F}' | '\u{3009}' | '\u{300B}' => ')',
        '\u{00B7}' | '\u{30FB}' => ' ',
        '號' => '号',
        '區' => '区',
        '縣' => '县',
        '鎮' => '镇',
        '衖' => '弄',
        _ => c,
    };
    c.to_ascii_lowercase()
}

/// CJK unified ideographs (with extension A, compatibility ideographs and the
/// supplementary planes).
#[inline]
pub(crate) fn is_han(c: char) -> bool {
    matches!(c,
        '\u{4E00}'..='\u{9FFF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{3134F}')
}

/// The folded, lower-cased query.
pub(crate) fn fold(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    out.extend(query.chars().map(fold_char));
    out
}

/// The key a building name is indexed under: folded, lower case, only letters
/// and digits ("Plaza 66", "PLAZA-66" and "ｐｌａｚａ６６" all become "plaza66").
pub(crate) fn name_key(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    push_name_key(name, &mut out);
    out
}

/// Appends the [`name_key`] of `name` to `out`.
pub(crate) fn push_name_key(name: &str, out: &mut String) {
    for c in name.chars() {
        let c = fold_char(c);
        if key_char(c) {
            out.push(c);
        }
    }
}

/// `c.is_alphanumeric()`, answering ASCII and the two fully assigned CJK ideograph blocks
/// (most of a Chinese name) without the Unicode table search.
#[inline]
fn key_char(c: char) -> bool {
    match c {
        '\0'..='\u{7F}' => c.is_ascii_alphanumeric(),
        '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' => true,
        _ => c.is_alphanumeric(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_full_width() {
        assert_eq!(fold("１２６６ Ｗｅｓｔ"), "1266 west");
        assert_eq!(fold("（Ｗ）"), "(w)");
        assert_eq!(fold("Yan’an"), "yan'an");
        assert_eq!(name_key("ＰＬＡＺＡ　６６"), "plaza66");
        assert_eq!(name_key("恒隆 广场!"), "恒隆广场");
    }

    #[test]
    fn key_chars_are_the_alphanumeric_ones() {
        for c in ('\0'..='\u{7F}')
            .chain('\u{3400}'..='\u{4DBF}')
            .chain('\u{4E00}'..='\u{9FFF}')
        {
            assert_eq!(key_char(c), c.is_alphanumeric(), "{c:?}");
        }
    }

    #[test]
    fn length_limits() {
        assert_eq!(check_len(""), Err(AddressError::Empty));
        assert_eq!(check_len(" 　 "), Err(AddressError::Empty));
        assert!(check_len(&"a".repeat(200)).is_ok());
        assert!(check_len(&"路".repeat(200)).is_ok());
        assert!(matches!(
            check_len(&"a".repeat(201)),
            Err(AddressError::TooLong { .. })
        ));
        assert!(matches!(
            check_len(&"路".repeat(10_000)),
            Err(AddressError::TooLong { .. })
        ));
    }
}
