//! Shanghai street addresses: parsing, normalisation and the address index.
//!
//! # The normal form
//!
//! Every address, whether typed in Chinese (`上海市静安区南京西路1266号`), pinyin
//! (`1266 Nanjing Xi Lu`) or English (`No. 1266 West Nanjing Road, Jing'an
//! District`), is reduced to a [`NormalizedAddress`]:
//!
//! * a [`RoadKey`] `{ base, direction, ordinal, kind }`:
//!   - `base`: the road's proper name as ASCII pinyin without tones, spaces or
//!     apostrophes, with doubled letters collapsed (南京 → `nanjing`, Yan'an →
//!     `yanan`, Shaanxi and 陕西 → `shanxi`). Chinese characters are converted
//!     with the `pinyin` crate; the index also registers other readings of
//!     characters with several (长宁 → `zhangning`, `changning`) for English
//!     queries.
//!   - `direction`: 东西南北中 just before the road type when at least two
//!     characters of name remain (南京西路 → West, but 西康路 keeps 西 in its
//!     name); in English West/W/Xi, East/E/Dong, South/S/Nan, North/N/Bei,
//!     Middle/M/Central/Zhong, before the name, before the road type, after it
//!     or in parentheses ("Nanjing Rd (W)").
//!   - `ordinal`: 一二三… before the road type (石门一路 → 1); in English
//!     "No. 1", "1st", "First", or pinyin "Yi" before the road type.
//!   - `kind`: 路 Road/Rd/Lu, 街 Street/St/Jie, 大道 Avenue/Ave/Dadao, 公路
//!     Highway/Gonglu, 巷 Alley/Xiang.
//! * `lane` (弄, "Lane 1394", the first half of "1394-2"), the house `number`
//!   (号, "No. 2") and an optional letter `sub`-number (1266号A).
//!
//! Before parsing, full-width forms are folded to ASCII (the NFKC mapping of
//! U+FF01–U+FF5E), ASCII is lower-cased, and administrative prefixes (中国,
//! 上海市, 静安区, …街道, "Jing'an District", "Shanghai") are dropped.
//! Queries longer than [`MAX_QUERY_CHARS`] characters are refused unread.
//!
//! The [`AddressIndex`] maps (road, lane, number, sub) to a building, and
//! building names (normalised to lower-case letters and digits: "Plaza 66" =
//! "plaza66") to buildings. A miss explains itself and suggests the nearest
//! known addresses or names.

mod index;
mod parse;
mod road;
mod text;

#[cfg(test)]
mod tests;

use serde::Serialize;

pub(crate) use index::FxHasher;
pub use index::{AddressIndex, AddressIndexBuilder};
pub use road::{Dir, RoadKey, RoadKind};
pub use text::MAX_QUERY_CHARS;

/// Why an address could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("the address is empty")]
    Empty,
    #[error("the address is longer than {max} characters")]
    TooLong { max: usize },
    #[error("the address has no house number")]
    NoHouseNumber,
    #[error("'{0}' is not a valid house or lane number (1 to 99999)")]
    BadNumber(String),
    #[error("{0}")]
    UnknownForm(String),
}

/// What a query matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchKind {
    Address,
    Name,
}

/// A successful lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressHit {
    pub building: u32,
    /// Canonical form of what matched: "南京西路1266号", or the building name.
    pub matched: String,
    pub kind: MatchKind,
}

/// A failed lookup: what is wrong or unknown, and what the caller may have meant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddressMiss {
    pub reason: String,
    pub suggestions: Vec<Suggestion>,
}

/// A known address or building name close to a query that missed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    /// Canonical address or building name.
    pub text: String,
    pub building: u32,
}

/// An address in normal form (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct NormalizedAddress {
    pub road: RoadKey,
    pub lane: Option<u32>,
    pub number: u32,
    /// Letter sub-number, upper case: the "A" of 1266号A.
    pub sub: Option<String>,
}

impl NormalizedAddress {
    /// English rendering that [`normalize`] reads back to the same value:
    /// "1266 West Nanjing Road", "No. 2, Lane 1394, West Nanjing Road".
    pub fn english(&self) -> String {
        let sub = self.sub.as_deref().map_or(0, parse::pack_sub);
        index::render_en(&self.road.english(), self.lane, Some(self.number), sub)
    }
}

/// Parses and normalises one address. Fails on empty or over-long input, on
/// text without a road, and on a road without a house number.
pub fn normalize(query: &str) -> Result<NormalizedAddress, AddressError> {
    let p = parse::parse(query)?;
    let number = p.number.ok_or(AddressError::NoHouseNumber)?;
    Ok(NormalizedAddress {
        road: p.road,
        lane: p.lane,
        number,
        sub: parse::sub_string(p.sub),
    })
}
