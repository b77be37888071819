//! Parsing a folded query into road key, lane, house number and sub-number.

use super::AddressError;
use super::road::{
    Dir, DirWord, RoadKey, analyze_zh_road, dir_word, english_ordinal_word, kind_word,
    pinyin_ordinal_word, push_base,
};
use super::text::{check_len, fold, is_han};

/// Largest house or lane number accepted (five digits).
pub(crate) const MAX_NUMBER: u32 = 99_999;

/// Shanghai's districts (current and merged), stripped from the front of a
/// Chinese address even without their 区 ("上海静安南京西路…").
const SHANGHAI_DISTRICTS: [&str; 19] = [
    "黄浦", "徐汇", "长宁", "静安", "普陀", "虹口", "杨浦", "闵行", "宝山", "嘉定", "浦东", "金山",
    "松江", "青浦", "奉贤", "崇明", "闸北", "卢湾", "南汇",
];

/// A house-number token before lane/number interpretation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Num {
    /// 1266, 1266A
    Single(u32, u32),
    /// 1394-2: lane 1394 number 2, or the range 10-12.
    Pair(u32, u32),
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub road: RoadKey,
    /// Another reading of the road (a pinyin direction word that is part of the name).
    pub road_alt: Option<RoadKey>,
    /// The Chinese road name as written, administrative prefixes removed (南京西路).
    pub road_zh: Option<String>,
    pub lane: Option<u32>,
    pub number: Option<u32>,
    /// Packed sub-number letters (see [`pack_sub`]); 0 when none.
    pub sub: u32,
    /// Another (lane, number) reading of an "a-b" number.
    pub alt: Option<(Option<u32>, u32)>,
}

/// Packs 1..=3 ASCII letters, upper-cased, into a non-zero u32.
pub(crate) fn pack_sub(letters: &str) -> u32 {
    letters
        .bytes()
        .take(3)
        .fold(0u32, |v, b| (v << 8) | u32::from(b.to_ascii_uppercase()))
}

pub(crate) fn push_sub(s: &mut String, sub: u32) {
    for shift in [16u32, 8, 0] {
        let b = ((sub >> shift) & 0xff) as u8;
        if b.is_ascii_alphabetic() {
            s.push(char::from(b));
        }
    }
}

pub(crate) fn sub_string(sub: u32) -> Option<String> {
    if sub == 0 {
        return None;
    }
    let mut s = String::with_capacity(3);
    push_sub(&mut s, sub);
    Some(s)
}

fn number_value(digits: &str) -> Result<u32, AddressError> {
    let bad = || AddressError::BadNumber(digits.to_string());
    if digits.is_empty() || digits.len() > 5 {
        return Err(bad());
    }
    let v = digits
        .bytes()
        .fold(0u32, |v, b| v * 10 + u32::from(b.wrapping_sub(b'0')));
    if v == 0 || v > MAX_NUMBER {
        return Err(bad());
    }
    Ok(v)
}

/// (lane, number, sub, alternative (lane, number)).
type Resolved = (Option<u32>, Option<u32>, u32, Option<(Option<u32>, u32)>);

fn resolve(lane: Option<u32>, num: Option<Num>) -> Resolved {
    match num {
        None => (lane, None, 0, None),
        Some(Num::Single(n, s)) => (lane, Some(n), s, None),
        Some(Num::Pair(a, _)) if lane.is_some() => (lane, Some(a), 0, None),
        Some(Num::Pair(a, b)) if b < a => (Some(a), Some(b), 0, Some((None, a))),
        Some(Num::Pair(a, b)) if b > a => (None, Some(a), 0, Some((Some(a), b))),
        Some(Num::Pair(a, _)) => (None, Some(a), 0, None),
    }
}

/// Parses any query (Chinese, pinyin or English).
pub(crate) fn parse(query: &str) -> Result<Parsed, AddressError> {
    check_len(query)?;
    let folded = fold(query);
    if folded.chars().any(is_han) {
        match parse_zh(&folded, true) {
            Ok(p) => Ok(p),
            Err(e @ AddressError::UnknownForm(_)) => parse_zh(&folded, false)
                .or_else(|_| {
                    if folded.bytes().filter(u8::is_ascii_alphabetic).count() >= 2 {
                        parse_en(&folded)
                    } else {
                        Err(e.clone())
                    }
                })
                .map_err(|_| e),
            Err(e) => Err(e),
        }
    } else {
        parse_en(&folded)
    }
}

// ---------------------------------------------------------------- Chinese

fn parse_zh(folded: &str, drop_parens: bool) -> Result<Parsed, AddressError> {
    let mut buf = String::with_capacity(folded.len());
    let mut depth = 0u32;
    for c in folded.chars() {
        match c {
            '(' if drop_parens => depth += 1,
            ')' if drop_parens => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            '-' => buf.push('-'),
            c if c.is_ascii_alphanumeric()
                || is_han(c)
                || (!c.is_ascii() && c.is_alphanumeric()) =>
            {
                buf.push(c)
            }
            _ => {}
        }
    }
    let b = buf.as_str();

    // The road type suffix: the first one followed by a digit; else the first
    // one at the end or before a non-Chinese character (road without number).
    let mut chosen: Option<(usize, usize)> = None;
    let mut fallback: Option<(usize, usize)> = None;
    let mut prev: Option<char> = None;
    let mut it = b.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let next = it.peek().map(|&(_, n)| n);
        let start = match (c, prev) {
            ('路', Some('公')) | ('道', Some('大')) => Some(i.saturating_sub(3)),
            ('路' | '巷', _) => Some(i),
            ('街', _) if next != Some('道') => Some(i),
            _ => None,
        };
        prev = Some(c);
        let Some(start) = start else { continue };
        let end = i + c.len_utf8();
        match next {
            Some(n) if n.is_ascii_digit() => {
                chosen = Some((start, end));
                break;
            }
            Some(n) if is_han(n) => {}
            _ => {
                if fallback.is_none() {
                    fallback = Some((start, end));
                }
            }
        }
    }
    let Some((start, end)) = chosen.or(fallback) else {
        return Err(AddressError::UnknownForm(
            "no road name ending in 路, 街, 大道, 公路 or 巷 was found".into(),
        ));
    };
    let name = strip_admin(b.get(..start).unwrap_or(""));
    let name_start = start - name.len();
    let road_text = b.get(name_start..end).unwrap_or("");
    let Some(zr) = analyze_zh_road(road_text) else {
        return Err(AddressError::UnknownForm(format!(
            "'{road_text}' is not a road name"
        )));
    };
    let road = zr.key();
    let (lane, num) = if chosen.is_some() {
        parse_zh_tail(b.get(end..).unwrap_or(""))?
    } else {
        (None, None)
    };
    let (lane, number, sub, alt) = resolve(lane, num);
    Ok(Parsed {
        road,
        road_alt: None,
        road_zh: Some(road_text.to_string()),
        lane,
        number,
        sub,
        alt,
    })
}

/// Removes 中国 / 上海市 / 静安区 / 南京西路街道 / …镇 from the front of the text
/// before a road suffix, keeping at least two characters of road name.
fn strip_admin(name: &str) -> &str {
    // What is left must keep two characters of proper name once a trailing
    // ordinal and direction are set aside (长宁十一路 is not 长宁 + 十一路).
    let ok = |rest: &str| {
        let core = rest.trim_end_matches(|c| "一二三四五六七八九十".contains(c));
        let core = core
            .strip_suffix(|c| "东西南北中".contains(c))
            .unwrap_or(core);
        core.chars().count() >= 2
    };
    let mut s = name;
    loop {
        let before = s.len();
        let t = s.trim_start_matches(|c: char| !is_han(c));
        if ok(t) {
            s = t;
        }
        for p in ["中华人民共和国", "中国", "上海市", "上海"] {
            if let Some(r) = s.strip_prefix(p)
                && ok(r)
            {
                s = r;
            }
        }
        if let Some((i, c)) = s
            .char_indices()
            .take(5)
            .skip(1)
            .find(|&(_, c)| c == '区' || c == '县')
        {
            let r = &s[i + c.len_utf8()..];
            if ok(r) {
                s = r;
            }
        }
        for d in SHANGHAI_DISTRICTS {
            if let Some(r) = s.strip_prefix(d) {
                let r = r
                    .strip_prefix("新区")
                    .or_else(|| r.strip_prefix('区'))
                    .unwrap_or(r);
                if ok(r) {
                    s = r;
                }
            }
        }
        if let Some(i) = s
            .char_indices()
            .filter(|&(_, c)| c == '道')
            .map(|(i, _)| i)
            .rfind(|&i| s[..i].ends_with('街'))
        {
            let r = &s[i + '道'.len_utf8()..];
            if ok(r) {
                s = r;
            }
        }
        if let Some((i, c)) = s
            .char_indices()
            .take(4)
            .skip(1)
            .find(|&(_, c)| c == '镇' || c == '乡')
        {
            let r = &s[i + c.len_utf8()..];
            if ok(r) {
                s = r;
            }
        }
        if s.len() == before {
            return s;
        }
    }
}

struct Cursor<'a>(&'a str);

impl Cursor<'_> {
    fn eat(&mut self, c: char) -> bool {
        match self.0.strip_prefix(c) {
            Some(r) => {
                self.0 = r;
                true
            }
            None => false,
        }
    }

    fn digits(&mut self) -> Result<Option<u32>, AddressError> {
        let n = self.0.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Ok(None);
        }
        let (d, rest) = self.0.split_at(n);
        self.0 = rest;
        number_value(d).map(Some)
    }

    /// 1..=3 ASCII letters not followed by another letter.
    fn sub(&mut self) -> u32 {
        let n = self.0.bytes().take_while(u8::is_ascii_alphabetic).count();
        if n == 0 || n > 3 {
            return 0;
        }
        let (l, rest) = self.0.split_at(n);
        self.0 = rest;
        pack_sub(l)
    }
}

/// `1266号`, `1266`, `1266号A`, `1266A号`, `1394弄2号`, `1394弄`, `1394-2号`.
fn parse_zh_tail(t: &str) -> Result<(Option<u32>, Option<Num>), AddressError> {
    let mut cur = Cursor(t);
    let Some(n1) = cur.digits()? else {
        return Ok((None, None));
    };
    if cur.eat('弄') {
        return match cur.digits()? {
            None => Ok((Some(n1), None)),
            Some(n2) => {
                let mut sub = cur.sub();
                cur.eat('号');
                if sub == 0 {
                    sub = cur.sub();
                }
                Ok((Some(n1), Some(Num::Single(n2, sub))))
            }
        };
    }
    if cur.eat('-')
        && let Some(n2) = cur.digits()?
    {
        return Ok((None, Some(Num::Pair(n1, n2))));
    }
    let mut sub = cur.sub();
    cur.eat('号');
    if sub == 0 {
        sub = cur.sub();
    }
    Ok((None, Some(Num::Single(n1, sub))))
}

// ---------------------------------------------------------------- English / pinyin

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    Word(&'a str),
    Num(u32, u32),
    Pair(u32, u32),
    Ord(u8),
    /// "No.", "#", "Number"
    No,
    /// "Lane", "Ln", "Nong"
    Lane,
    /// "Room", "Floor", "Unit", …: the number after it is not the house number.
    Skip,
    /// "," or ";"
    Sep,
    /// Anything else (postcodes, mixed tokens).
    Other,
}

fn is_admin(w: &str) -> bool {
    matches!(
        w,
        "shanghai"
            | "china"
            | "prc"
            | "district"
            | "dist"
            | "qu"
            | "city"
            | "province"
            | "county"
            | "town"
            | "township"
            | "subdistrict"
            | "village"
            | "area"
    )
}

fn word_tok(w: &str) -> Tok<'_> {
    match w {
        "no" | "nos" | "number" | "num" | "nr" => Tok::No,
        "lane" | "ln" | "nong" => Tok::Lane,
        "room" | "rm" | "unit" | "flat" | "suite" | "ste" | "floor" | "fl" | "building"
        | "bldg" | "block" | "blk" | "tower" | "apt" | "apartment" | "level" | "lvl" | "zip"
        | "postcode" => Tok::Skip,
        _ => Tok::Word(w),
    }
}

fn classify<'a>(t: &'a str, out: &mut Vec<Tok<'a>>) {
    let t = t.trim_matches(|c| c == '\'' || c == '-');
    if t.is_empty() {
        return;
    }
    let nd = t.bytes().take_while(u8::is_ascii_digit).count();
    if nd == 0 {
        if let Some(d) = t.strip_prefix("no")
            && !d.is_empty()
            && d.bytes().all(|b| b.is_ascii_digit())
        {
            out.push(Tok::No);
            classify(d, out);
            return;
        }
        if t.contains('-') {
            for part in t.split('-') {
                classify(part, out);
            }
            return;
        }
        out.push(word_tok(t));
        return;
    }
    let (digits, rest) = t.split_at(nd);
    let Ok(n) = number_value(digits) else {
        out.push(Tok::Other);
        return;
    };
    if rest.is_empty() {
        out.push(Tok::Num(n, 0));
    } else if let Some(r) = rest.strip_prefix('-') {
        let nd2 = r.bytes().take_while(u8::is_ascii_digit).count();
        match number_value(r) {
            Ok(m) if nd2 == r.len() => out.push(Tok::Pair(n, m)),
            _ => out.push(Tok::Other),
        }
    } else if matches!(rest, "st" | "nd" | "rd" | "th") && n <= 99 {
        out.push(Tok::Ord(n as u8));
    } else if rest.len() <= 3 && rest.bytes().all(|b| b.is_ascii_alphabetic()) {
        out.push(Tok::Num(n, pack_sub(rest)));
    } else {
        out.push(Tok::Other);
    }
}

fn tokenize(s: &str) -> Vec<Tok<'_>> {
    let mut toks = Vec::with_capacity(16);
    let mut start: Option<usize> = None;
    for (i, c) in s.char_indices() {
        if (c.is_alphanumeric() && !is_han(c)) || c == '\'' || c == '-' {
            if start.is_none() {
                start = Some(i);
            }
            continue;
        }
        if let Some(st) = start.take() {
            classify(&s[st..i], &mut toks);
        }
        match c {
            ',' | ';' => toks.push(Tok::Sep),
            '#' => toks.push(Tok::No),
            _ => {}
        }
    }
    if let Some(st) = start {
        classify(&s[st..], &mut toks);
    }
    toks
}

fn is_word(t: &Tok<'_>) -> bool {
    matches!(t, Tok::Word(w) if !is_admin(w))
}

fn parse_en(folded: &str) -> Result<Parsed, AddressError> {
    let toks = tokenize(folded);

    // The road type word: the first one that follows a word (or an ordinal
    // that follows a word: "Shimen No. 1 Road", "Shimen 1st Road").
    let mut found = None;
    for (k, t) in toks.iter().enumerate() {
        let Tok::Word(w) = *t else { continue };
        let Some((kind, pinyin_kind)) = kind_word(w) else {
            continue;
        };
        let ok = match k.checked_sub(1).map(|p| toks[p]) {
            Some(Tok::Word(p)) => !is_admin(p),
            Some(Tok::Ord(_)) => k >= 2 && is_word(&toks[k - 2]),
            Some(Tok::Num(n, 0)) => {
                k >= 3 && n <= 99 && toks[k - 2] == Tok::No && is_word(&toks[k - 3])
            }
            _ => false,
        };
        if ok {
            found = Some((k, kind, pinyin_kind));
            break;
        }
    }
    let Some((k, kind, pinyin_kind)) = found else {
        return Err(AddressError::UnknownForm(
            "no road type (Road, Rd, Lu, Street, Avenue, …) was found".into(),
        ));
    };

    // Backwards from the road type: ordinal, direction, then the name words.
    let mut j = k;
    let mut ordinal: Option<u8> = None;
    match toks[j - 1] {
        Tok::Num(n, 0) if j >= 3 && toks[j - 2] == Tok::No && is_word(&toks[j - 3]) && n <= 99 => {
            ordinal = Some(n as u8);
            j -= 2;
        }
        Tok::Ord(n) if j >= 2 && is_word(&toks[j - 2]) => {
            ordinal = Some(n);
            j -= 1;
        }
        Tok::Word(w) if j >= 2 && is_word(&toks[j - 2]) => {
            let o = english_ordinal_word(w).or_else(|| {
                if pinyin_kind {
                    pinyin_ordinal_word(w)
                } else {
                    None
                }
            });
            if o.is_some() {
                ordinal = o;
                j -= 1;
            }
        }
        _ => {}
    }
    let mut direction: Option<Dir> = None;
    let mut pinyin_dir: Option<&str> = None;
    if j >= 2
        && is_word(&toks[j - 2])
        && let Tok::Word(w) = toks[j - 1]
        && let Some((d, how)) = dir_word(w)
    {
        direction = Some(d);
        if how == DirWord::Pinyin {
            pinyin_dir = Some(w);
        }
        j -= 1;
    }
    let mut i = j;
    while i > 0 && is_word(&toks[i - 1]) {
        i -= 1;
    }
    let mut words = &toks[i..j];
    if words.len() >= 2
        && let Tok::Word(w) = words[0]
        && let Some((d, DirWord::English)) = dir_word(w)
        && (direction.is_none() || direction == Some(d))
    {
        direction = Some(d);
        words = &words[1..];
    }
    let mut base = String::with_capacity(16);
    for t in words {
        if let Tok::Word(w) = t {
            push_base(&mut base, w);
        }
    }
    if base.is_empty() {
        return Err(AddressError::UnknownForm("the road has no name".into()));
    }

    // Numbers before the road name.
    let mut explicit: Option<Num> = None;
    let mut bare: Option<Num> = None;
    let mut lane: Option<u32> = None;
    let mut t = 0;
    while t < i {
        match (toks[t], toks.get(t + 1).copied()) {
            (Tok::No, Some(Tok::Num(n, s))) => {
                explicit = Some(Num::Single(n, s));
                t += 2;
            }
            (Tok::No, Some(Tok::Pair(a, b))) => {
                explicit = Some(Num::Pair(a, b));
                t += 2;
            }
            (Tok::Lane, Some(Tok::Num(n, _))) => {
                lane = Some(n);
                t += 2;
            }
            (Tok::Lane, Some(Tok::Pair(a, b))) => {
                lane = Some(a);
                explicit = Some(Num::Single(b, 0));
                t += 2;
            }
            (Tok::Skip, Some(Tok::Num(..) | Tok::Pair(..))) => t += 2,
            (Tok::Num(n, s), _) => {
                bare = Some(Num::Single(n, s));
                t += 1;
            }
            (Tok::Pair(a, b), _) => {
                bare = Some(Num::Pair(a, b));
                t += 1;
            }
            _ => t += 1,
        }
    }

    // After the road type: "(W)", "West", "No. 2", "Lane 5", a bare number.
    let mut t = k + 1;
    while t < toks.len() {
        let have_number = explicit.is_some() || bare.is_some();
        match (toks[t], toks.get(t + 1).copied()) {
            (Tok::Sep, _) => t += 1,
            (Tok::Word(w), _) if dir_word(w).is_some() => {
                if direction.is_none() {
                    direction = dir_word(w).map(|(d, _)| d);
                }
                t += 1;
            }
            (Tok::No, Some(Tok::Num(n, s))) => {
                if !have_number {
                    explicit = Some(Num::Single(n, s));
                } else if ordinal.is_none() && s == 0 && n <= 99 {
                    ordinal = Some(n as u8);
                }
                t += 2;
            }
            (Tok::No, Some(Tok::Pair(a, b))) if !have_number => {
                explicit = Some(Num::Pair(a, b));
                t += 2;
            }
            (Tok::Lane, Some(Tok::Num(n, _))) if lane.is_none() => {
                lane = Some(n);
                t += 2;
            }
            (Tok::Num(n, s), _) if !have_number => {
                bare = Some(Num::Single(n, s));
                t += 1;
            }
            (Tok::Pair(a, b), _) if !have_number => {
                bare = Some(Num::Pair(a, b));
                t += 1;
            }
            (Tok::Skip, Some(Tok::Num(..) | Tok::Pair(..))) => t += 2,
            _ => break,
        }
    }

    let road_alt = match (pinyin_dir, words) {
        (Some(dw), [Tok::Word(w)]) => {
            let mut b = String::with_capacity(w.len() + dw.len());
            push_base(&mut b, w);
            push_base(&mut b, dw);
            Some(RoadKey {
                base: b,
                direction: None,
                ordinal,
                kind,
            })
        }
        _ => None,
    };
    let road = RoadKey {
        base,
        direction,
        ordinal,
        kind,
    };
    let (lane, number, sub, alt) = resolve(lane, explicit.or(bare));
    Ok(Parsed {
        road,
        road_alt,
        road_zh: None,
        lane,
        number,
        sub,
        alt,
    })
}

#[cfg(test)]
mod tests {
    use super::super::road::RoadKind;
    use super::*;

    fn p(s: &str) -> Parsed {
        match parse(s) {
            Ok(p) => p,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn nanjing_w() -> RoadKey {
        RoadKey {
            base: "nanjing".into(),
            direction: Some(Dir::West),
            ordinal: None,
            kind: RoadKind::Road,
        }
    }

    #[test]
    fn chinese_forms() {
        for q in [
            "南京西路1266号",
            "南京西路1266",
            "上海市静安区南京西路1266号",
            "上海静安南京西路1266号",
            "中国上海市静安区南京西路1266号",
            "南京西路１２６６号",
            "上海市 静安区 南京西路 1266 号",
            "南京西路街道南京西路1266号",
            "南京西路1266号(近陕西北路)",
            "南京西路1266号3楼",
        ] {
            let r = p(q);
            assert_eq!(r.road, nanjing_w(), "{q}");
            assert_eq!(r.road_zh.as_deref(), Some("南京西路"), "{q}");
            assert_eq!((r.lane, r.number, r.sub), (None, Some(1266), 0), "{q}");
        }
        let r = p("南京西路1394弄2号");
        assert_eq!((r.lane, r.number), (Some(1394), Some(2)));
        let r = p("南京西路1394弄");
        assert_eq!((r.lane, r.number), (Some(1394), None));
        let r = p("南京西路1266号A座");
        assert_eq!(
            (r.number, sub_string(r.sub)),
            (Some(1266), Some("A".into()))
        );
        let r = p("南京西路1266A号");
        assert_eq!(
            (r.number, sub_string(r.sub)),
            (Some(1266), Some("A".into()))
        );
        let r = p("南京西路");
        assert_eq!((r.lane, r.number), (None, None));
        let r = p("浦东南路100号");
        assert_eq!(r.road_zh.as_deref(), Some("浦东南路"));
        let r = p("长宁路100号");
        assert_eq!(r.road_zh.as_deref(), Some("长宁路"));
        let r = p("上海市长宁区长宁路100号");
        assert_eq!(r.road_zh.as_deref(), Some("长宁路"));
        let r = p("镇宁路100号");
        assert_eq!(r.road_zh.as_deref(), Some("镇宁路"));
    }

    #[test]
    fn english_forms() {
        for q in [
            "1266 West Nanjing Road",
            "1266 W Nanjing Rd",
            "1266 W. Nanjing Rd.",
            "1266 Nanjing Rd (W)",
            "1266 Nanjing Road West",
            "1266 Nanjing Xi Lu",
            "No. 1266 West Nanjing Road, Jing'an District, Shanghai",
            "1266 west nanjing road",
            "１２６６ Ｗｅｓｔ Ｎａｎｊｉｎｇ Ｒｏａｄ",
            "Nanjing West Road 1266",
            "Shanghai, Jing'an District, 1266 West Nanjing Road 200040",
            "Room 501, 1266 West Nanjing Road",
            "#1266 W Nanjing Rd",
        ] {
            let r = p(q);
            assert_eq!(r.road, nanjing_w(), "{q}");
            assert_eq!((r.lane, r.number, r.sub), (None, Some(1266), 0), "{q}");
        }
        for q in [
            "Lane 1394 West Nanjing Road No. 2",
            "No. 2, Lane 1394, West Nanjing Road",
            "1394-2 West Nanjing Rd",
        ] {
            let r = p(q);
            assert_eq!(r.road, nanjing_w(), "{q}");
            assert_eq!((r.lane, r.number), (Some(1394), Some(2)), "{q}");
        }
    }

    #[test]
    fn ordinals_and_directions() {
        let shimen = RoadKey {
            base: "shimen".into(),
            direction: None,
            ordinal: Some(1),
            kind: RoadKind::Road,
        };
        for q in [
            "100 Shimen No.1 Road",
            "100 Shimen Yi Lu",
            "100 Shimen Road No. 1",
            "100 Shimen 1st Road",
            "石门一路100号",
        ] {
            assert_eq!(p(q).road, shimen, "{q}");
            assert_eq!(p(q).number, Some(100), "{q}");
        }
        let yanan = RoadKey {
            base: "yanan".into(),
            direction: Some(Dir::Middle),
            ordinal: None,
            kind: RoadKind::Road,
        };
        for q in [
            "100 Middle Yan'an Road",
            "100 Yan'an Road (M)",
            "100 Yan'an Zhong Lu",
            "100 Yan’an Rd Central",
            "延安中路100号",
        ] {
            assert_eq!(p(q).road, yanan, "{q}");
        }
        assert_eq!(p("100 Shaanxi Bei Lu").road, p("陕西北路100号").road);
        assert_eq!(p("100 North Shaanxi Road").road, p("陕西北路100号").road);
        assert_eq!(p("100 Xikang Road").road, p("西康路100号").road);
        assert_eq!(p("100 Xi Kang Road").road, p("西康路100号").road);
        let alt = p("100 Huai Nan Lu").road_alt;
        assert_eq!(alt.map(|k| k.base), Some("huainan".to_string()));
    }

    #[test]
    fn not_addresses() {
        assert!(matches!(
            parse("Plaza 66"),
            Err(AddressError::UnknownForm(_))
        ));
        assert!(matches!(
            parse("恒隆广场"),
            Err(AddressError::UnknownForm(_))
        ));
        assert!(matches!(
            parse("南京西路0号"),
            Err(AddressError::BadNumber(_))
        ));
        assert!(matches!(
            parse("南京西路1234567号"),
            Err(AddressError::BadNumber(_))
        ));
        assert_eq!(parse("  "), Err(AddressError::Empty));
    }
}
