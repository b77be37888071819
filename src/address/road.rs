//! The canonical road key and the vocabulary used to build it from Chinese,
//! pinyin and English.

use std::fmt;

use pinyin::{ToPinyin, ToPinyinMulti};
use serde::Serialize;

/// Direction part of a road name: 南京**西**路 = West Nanjing Road.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    East,
    West,
    South,
    North,
    Middle,
}

impl Dir {
    pub(crate) fn from_zh(c: char) -> Option<Dir> {
        Some(match c {
            '东' => Dir::East,
            '西' => Dir::West,
            '南' => Dir::South,
            '北' => Dir::North,
            '中' => Dir::Middle,
            _ => return None,
        })
    }

    /// The English word used when rendering ("West").
    pub fn english(self) -> &'static str {
        match self {
            Dir::East => "East",
            Dir::West => "West",
            Dir::South => "South",
            Dir::North => "North",
            Dir::Middle => "Middle",
        }
    }
}

/// How a direction word was written; decides where in the name it may stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DirWord {
    /// "west", "w", "middle", "central": before the name, before the road type or after it.
    English,
    /// "xi", "dong", "nan", "bei", "zhong": only just before the road type or after it.
    Pinyin,
}

pub(crate) fn dir_word(w: &str) -> Option<(Dir, DirWord)> {
    use DirWord::*;
    Some(match w {
        "west" | "w" => (Dir::West, English),
        "east" | "e" => (Dir::East, English),
        "south" | "s" => (Dir::South, English),
        "north" | "n" => (Dir::North, English),
        "middle" | "mid" | "m" | "central" | "center" | "centre" => (Dir::Middle, English),
        "xi" => (Dir::West, Pinyin),
        "dong" => (Dir::East, Pinyin),
        "nan" => (Dir::South, Pinyin),
        "bei" => (Dir::North, Pinyin),
        "zhong" => (Dir::Middle, Pinyin),
        _ => return None,
    })
}

/// The type of road: 路, 街, 大道, 公路, 巷.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RoadKind {
    /// 路, Road, Rd, Lu
    Road,
    /// 街, Street, St, Jie
    Street,
    /// 大道, Avenue, Ave, Boulevard, Dadao
    Avenue,
    /// 公路, Highway, Hwy, Gonglu
    Highway,
    /// 巷, Alley, Xiang
    Alley,
}

impl RoadKind {
    pub fn english(self) -> &'static str {
        match self {
            RoadKind::Road => "Road",
            RoadKind::Street => "Street",
            RoadKind::Avenue => "Avenue",
            RoadKind::Highway => "Highway",
            RoadKind::Alley => "Alley",
        }
    }
}

/// A road-type word; the flag says it is pinyin ("lu"), which allows pinyin
/// ordinals ("Shimen Yi Lu").
pub(crate) fn kind_word(w: &str) -> Option<(RoadKind, bool)> {
    Some(match w {
        "road" | "rd" => (RoadKind::Road, false),
        "lu" => (RoadKind::Road, true),
        "street" | "st" | "str" => (RoadKind::Street, false),
        "jie" => (RoadKind::Street, true),
        "avenue" | "ave" | "av" | "boulevard" | "blvd" => (RoadKind::Avenue, false),
        "dadao" => (RoadKind::Avenue, true),
        "highway" | "hwy" => (RoadKind::Highway, false),
        "gonglu" => (RoadKind::Highway, true),
        "alley" => (RoadKind::Alley, false),
        "xiang" => (RoadKind::Alley, true),
        _ => return None,
    })
}

pub(crate) fn english_ordinal_word(w: &str) -> Option<u8> {
    Some(match w {
        "first" => 1,
        "second" => 2,
        "third" => 3,
        "fourth" => 4,
        "fifth" => 5,
        "sixth" => 6,
        "seventh" => 7,
        "eighth" => 8,
        "ninth" => 9,
        "tenth" => 10,
        _ => return None,
    })
}

pub(crate) fn pinyin_ordinal_word(w: &str) -> Option<u8> {
    Some(match w {
        "yi" => 1,
        "er" => 2,
        "san" => 3,
        "si" => 4,
        "wu" => 5,
        "liu" => 6,
        "qi" => 7,
        "ba" => 8,
        "jiu" => 9,
        "shi" => 10,
        _ => return None,
    })
}

fn zh_digit(c: char) -> Option<u8> {
    Some(match c {
        '一' => 1,
        '二' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        '十' => 10,
        _ => return None,
    })
}

/// Value of a Chinese numeral 1..=99 ("一", "十一", "二十", "二十三").
fn zh_numeral(s: &str) -> Option<u8> {
    let mut d = [0u8; 3];
    let mut n = 0;
    for c in s.chars() {
        if n == 3 {
            return None;
        }
        d[n] = zh_digit(c)?;
        n += 1;
    }
    match d[..n] {
        [n] => Some(n),
        [10, u] if u < 10 => Some(10 + u),
        [t, 10] if (2..10).contains(&t) => Some(t * 10),
        [t, 10, u] if (2..10).contains(&t) && u < 10 => Some(t * 10 + u),
        _ => None,
    }
}

/// Canonical road key: the same road written in Chinese, pinyin or English
/// gives the same key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RoadKey {
    /// ASCII pinyin of the proper name, without tones, spaces, apostrophes,
    /// and with doubled letters collapsed ("nanjing", "yanan", "shanxi").
    pub base: String,
    pub direction: Option<Dir>,
    /// 石门一路 = Shimen No. 1 Road → 1.
    pub ordinal: Option<u8>,
    pub kind: RoadKind,
}

impl RoadKey {
    /// English rendering that the parser reads back to the same key:
    /// "West Nanjing Road", "Shimen No. 1 Road", "Middle Yanan Road".
    pub fn english(&self) -> String {
        let mut s = String::with_capacity(self.base.len() + 24);
        if let Some(d) = self.direction {
            s.push_str(d.english());
            s.push(' ');
        }
        let mut chars = self.base.chars();
        if let Some(first) = chars.next() {
            s.push(first.to_ascii_uppercase());
            s.push_str(chars.as_str());
        }
        if let Some(o) = self.ordinal {
            s.push_str(" No. ");
            s.push_str(&o.to_string());
        }
        s.push(' ');
        s.push_str(self.kind.english());
        s
    }
}

impl fmt::Display for RoadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.english())
    }
}

/// Appends the letters of `s` to a road base: lower-case ASCII letters only,
/// ü/v as u, and a letter equal to the previous one dropped ("Shaanxi" and
/// 陕西 "shanxi" agree, "Hua'an" = "huan").
pub(crate) fn push_base(out: &mut String, s: &str) {
    for c in s.chars() {
        let c = match c {
            'ü' | 'ǖ' | 'ǘ' | 'ǚ' | 'ǜ' | 'v' | 'V' => 'u',
            'a'..='z' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            'ê' | 'ế' | 'ề' => 'e',
            _ => continue,
        };
        if out.as_bytes().last() != Some(&(c as u8)) {
            out.push(c);
        }
    }
}

/// Pinyin base of Chinese proper-name characters (most common reading).
pub(crate) fn zh_base(name: &str) -> String {
    let mut out = String::with_capacity(name.len() * 2);
    for c in name.chars() {
        if let Some(p) = c.to_pinyin() {
            push_base(&mut out, p.plain());
        } else if c.is_ascii_alphabetic() {
            push_base(&mut out, c.encode_utf8(&mut [0u8; 4]));
        }
    }
    out
}

/// Pinyin bases for every combination of the characters' readings (长宁 →
/// "zhangning", "changning"), most common first, at most `max`.
pub(crate) fn zh_base_variants(name: &str, max: usize) -> Vec<String> {
    let mut out: Vec<String> = vec![String::new()];
    for c in name.chars() {
        let readings: Vec<&'static str> = match c.to_pinyin_multi() {
            Some(m) => {
                let mut r: Vec<&'static str> = Vec::with_capacity(m.count());
                for p in m {
                    let pl = p.plain();
                    if !r.contains(&pl) {
                        r.push(pl);
                    }
                }
                r
            }
            None if c.is_ascii_alphabetic() => {
                let mut s = String::new();
                push_base(&mut s, c.encode_utf8(&mut [0u8; 4]));
                for o in &mut out {
                    o.push_str(&s);
                }
                continue;
            }
            None => continue,
        };
        let mut next = Vec::with_capacity(out.len() * readings.len());
        for r in &readings {
            for o in &out {
                if next.len() >= max {
                    break;
                }
                let mut s = o.clone();
                push_base(&mut s, r);
                next.push(s);
            }
        }
        out = next;
    }
    let mut dedup: Vec<String> = Vec::with_capacity(out.len());
    for s in out {
        if !s.is_empty() && !dedup.contains(&s) {
            dedup.push(s);
        }
    }
    dedup
}

/// Parts of a Chinese road name such as 中山东一路.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ZhRoad<'a> {
    /// Proper-name characters: 中山.
    pub base: &'a str,
    pub direction: Option<Dir>,
    pub ordinal: Option<u8>,
    pub kind: RoadKind,
}

/// Splits a Chinese road name (with its type suffix) into its parts.
/// Ordinal (一二三.. just before the suffix) and direction (东西南北中 before
/// that) are split off only while at least two characters of the name remain,
/// so 西康路 keeps 西 as part of its name.
pub(crate) fn analyze_zh_road(road: &str) -> Option<ZhRoad<'_>> {
    let (name, kind) = if let Some(n) = road.strip_suffix("大道") {
        (n, RoadKind::Avenue)
    } else if let Some(n) = road.strip_suffix("公路") {
        (n, RoadKind::Highway)
    } else if let Some(n) = road.strip_suffix('路') {
        (n, RoadKind::Road)
    } else if let Some(n) = road.strip_suffix('街') {
        (n, RoadKind::Street)
    } else if let Some(n) = road.strip_suffix('巷') {
        (n, RoadKind::Alley)
    } else {
        return None;
    };
    let count = name.chars().count();
    let mut end = name.len();
    let mut kept = count;
    let mut ordinal = None;
    // Trailing Chinese numeral, up to three characters (二十三), longest first,
    // keeping at least two characters of name.
    let mut starts = [0usize; 3];
    let mut run = 0;
    for (i, c) in name.char_indices().rev() {
        if run == 3 || zh_digit(c).is_none() {
            break;
        }
        starts[run] = i;
        run += 1;
    }
    for len in (1..=run).rev() {
        if kept < len + 2 {
            continue;
        }
        if let Some(n) = zh_numeral(&name[starts[len - 1]..end]) {
            ordinal = Some(n);
            end = starts[len - 1];
            kept -= len;
            break;
        }
    }
    let mut direction = None;
    if kept >= 3
        && let Some((i, c)) = name[..end].char_indices().next_back()
        && let Some(d) = Dir::from_zh(c)
    {
        direction = Some(d);
        end = i;
    }
    let base_end = end;
    let base = &name[..base_end];
    if !base.chars().any(super::text::is_han) {
        return None;
    }
    Some(ZhRoad {
        base,
        direction,
        ordinal,
        kind,
    })
}

impl ZhRoad<'_> {
    pub(crate) fn key(&self) -> RoadKey {
        RoadKey {
            base: zh_base(self.base),
            direction: self.direction,
            ordinal: self.ordinal,
            kind: self.kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: &str, d: Option<Dir>, o: Option<u8>, k: RoadKind) -> RoadKey {
        RoadKey {
            base: b.into(),
            direction: d,
            ordinal: o,
            kind: k,
        }
    }

    #[test]
    fn chinese_road_keys() {
        let k = |s: &str| analyze_zh_road(s).map(|r| r.key());
        use Dir::*;
        use RoadKind::*;
        assert_eq!(k("南京西路"), Some(key("nanjing", Some(West), None, Road)));
        assert_eq!(k("南京东路"), Some(key("nanjing", Some(East), None, Road)));
        assert_eq!(k("石门一路"), Some(key("shimen", None, Some(1), Road)));
        assert_eq!(
            k("中山东一路"),
            Some(key("zhongshan", Some(East), Some(1), Road))
        );
        assert_eq!(k("西康路"), Some(key("xikang", None, None, Road)));
        assert_eq!(k("陕西北路"), Some(key("shanxi", Some(North), None, Road)));
        assert_eq!(k("延安中路"), Some(key("yanan", Some(Middle), None, Road)));
        assert_eq!(k("世纪大道"), Some(key("shiji", None, None, Avenue)));
        assert_eq!(k("沪太公路"), Some(key("hutai", None, None, Highway)));
        assert_eq!(
            k("张江二十三路"),
            Some(key("zhangjiang", None, Some(23), Road))
        );
        assert_eq!(k("浦东南路"), Some(key("pudong", Some(South), None, Road)));
        assert_eq!(k("北路"), Some(key("bei", None, None, Road)));
        assert_eq!(k("路"), None);
    }

    #[test]
    fn base_folding() {
        let mut s = String::new();
        push_base(&mut s, "Shaanxi");
        assert_eq!(s, "shanxi");
        let mut s = String::new();
        push_base(&mut s, "Yan'an");
        assert_eq!(s, "yanan");
        assert_eq!(zh_base("陕西"), "shanxi");
        assert_eq!(zh_base("绿"), "lu");
        let v = zh_base_variants("长宁", 8);
        assert_eq!(v[0], zh_base("长宁"));
        assert!(v.contains(&"changning".to_string()));
    }

    #[test]
    fn english_rendering() {
        let k = key("shimen", Some(Dir::West), Some(1), RoadKind::Road);
        assert_eq!(k.english(), "West Shimen No. 1 Road");
    }
}
