//! Index-level tests: every form that must resolve, the misses, and fuzzing.

use super::*;
use proptest::prelude::*;

const PLAZA66: u32 = 7;
const LANE_BUILDING: u32 = 8;

fn fixture() -> AddressIndex {
    let mut b = AddressIndexBuilder::new();
    let addrs: &[(&str, u32)] = &[
        ("南京西路1266号", PLAZA66),
        ("南京西路1394弄2号", LANE_BUILDING),
        ("南京西路1500弄1号", 41),
        ("南京西路1500弄3号", 42),
        ("南京西路1200号", 30),
        ("南京西路1201号", 31),
        ("南京西路1260号", 32),
        ("南京西路1265号", 33),
        ("南京西路1270号", 34),
        ("南京西路1281号", 35),
        ("延安中路1000号", 10),
        ("石门一路100号", 11),
        ("陕西北路500号", 12),
        ("茂名北路200号", 13),
        ("常德路300号", 14),
        ("铜仁路50号", 15),
        ("华山路100号", 16),
        ("威海路600号", 17),
        ("北京西路1000号", 18),
        ("愚园路200号", 19),
        ("万航渡路300号", 20),
        ("西康路400号", 21),
        ("江宁路500号", 22),
        ("泰兴路100号", 23),
        ("胶州路200号", 24),
        ("延安西路300号", 25),
        ("南京东路100号", 40),
        ("长宁路100号", 50),
        ("上海市静安区南京西路1266号", PLAZA66), // same address again: no-op
    ];
    for (a, id) in addrs {
        if let Err(e) = b.add_address(a, *id) {
            panic!("{a}: {e}");
        }
    }
    b.add_name("恒隆广场", PLAZA66);
    b.add_name("Plaza 66", PLAZA66);
    b.add_name("Jing'an Kerry Centre", 60);
    b.add_name("嘉里中心", 60);
    b.build()
}

#[track_caller]
fn hit(ix: &AddressIndex, q: &str) -> AddressHit {
    match ix.lookup(q) {
        Ok(h) => h,
        Err(m) => panic!("{q}: {} {:?}", m.reason, m.suggestions),
    }
}

#[track_caller]
fn miss(ix: &AddressIndex, q: &str) -> AddressMiss {
    match ix.lookup(q) {
        Ok(h) => panic!("{q} should miss but hit {h:?}"),
        Err(m) => m,
    }
}

#[track_caller]
fn assert_building(ix: &AddressIndex, forms: &[&str], building: u32) {
    for q in forms {
        assert_eq!(hit(ix, q).building, building, "{q}");
    }
}

#[test]
fn index_is_send_sync_and_counts() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<AddressIndex>();
    let ix = fixture();
    assert_eq!(ix.address_count(), 28);
    assert_eq!(ix.name_count(), 4);
    assert_eq!(ix.len(), 32);
    assert!(!ix.is_empty());
    assert!(AddressIndexBuilder::default().build().is_empty());
}

#[test]
fn chinese_forms_of_plaza66() {
    let ix = fixture();
    let forms = [
        "南京西路1266号",
        "南京西路1266",
        "上海市静安区南京西路1266号",
        "上海静安南京西路1266号",
        "中国上海市静安区南京西路1266号",
        "南京西路１２６６号",
        "南京西路 1266 号",
        "恒隆广场南京西路1266号",
        "南京西路1266号（恒隆广场）",
        "南京西路1266号A座",
        "南京西路1266-1268号",
    ];
    assert_building(&ix, &forms, PLAZA66);
    let h = hit(&ix, "中国上海市静安区南京西路1266号");
    assert_eq!(h.matched, "南京西路1266号");
    assert_eq!(h.kind, MatchKind::Address);
}

#[test]
fn english_forms_of_plaza66() {
    let ix = fixture();
    let forms = [
        "1266 West Nanjing Road",
        "1266 W Nanjing Rd",
        "1266 W. Nanjing Rd.",
        "1266 Nanjing Rd (W)",
        "1266 Nanjing Road West",
        "1266 Nanjing Xi Lu",
        "No. 1266 West Nanjing Road, Jing'an District, Shanghai",
        "1266 west nanjing road",
        "1266 WEST NANJING ROAD",
        "１２６６ Ｗｅｓｔ Ｎａｎｊｉｎｇ Ｒｏａｄ",
        "Nanjing Road West 1266",
        "1266 Nanjing Rd. W., Shanghai 200040",
    ];
    assert_building(&ix, &forms, PLAZA66);
    assert_eq!(hit(&ix, "1266 W Nanjing Rd").matched, "南京西路1266号");
}

#[test]
fn lane_addresses() {
    let ix = fixture();
    let forms = [
        "南京西路1394弄2号",
        "Lane 1394 West Nanjing Road No. 2",
        "No. 2, Lane 1394, West Nanjing Road",
        "1394-2 West Nanjing Rd",
        "南京西路1394弄",
        "Lane 1394, West Nanjing Road",
    ];
    assert_building(&ix, &forms, LANE_BUILDING);
    assert_eq!(
        hit(&ix, "1394-2 West Nanjing Rd").matched,
        "南京西路1394弄2号"
    );

    // Two buildings in lane 1500: the lane alone is not enough.
    let m = miss(&ix, "南京西路1500弄");
    assert!(m.reason.contains("1500"), "{}", m.reason);
    assert!(m.reason.contains("2 buildings"), "{}", m.reason);
    let texts: Vec<&str> = m.suggestions.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(texts, ["南京西路1500弄1号", "南京西路1500弄3号"]);
    assert_eq!(hit(&ix, "南京西路1500弄3号").building, 42);
}

#[test]
fn names_and_aliases() {
    let ix = fixture();
    for q in [
        "恒隆广场",
        "Plaza 66",
        "plaza66",
        "PLAZA 66",
        "Ｐｌａｚａ　６６",
        " plaza-66 ",
        "恒隆 广场",
    ] {
        let h = hit(&ix, q);
        assert_eq!(h.building, PLAZA66, "{q}");
        assert_eq!(h.kind, MatchKind::Name, "{q}");
    }
    assert_eq!(hit(&ix, "plaza66").matched, "Plaza 66");
    assert_eq!(hit(&ix, "jingan kerry centre").building, 60);
    assert_eq!(hit(&ix, "嘉里中心").building, 60);
}

#[test]
fn other_roads_in_the_district() {
    let ix = fixture();
    let cases: &[(u32, &[&str])] = &[
        (
            10,
            &[
                "延安中路1000号",
                "1000 Middle Yan'an Road",
                "1000 Yan'an Road (M)",
                "1000 Yan'an Zhong Lu",
                "1000 Yanan Rd Central",
            ],
        ),
        (
            11,
            &[
                "石门一路100号",
                "100 Shimen No.1 Road",
                "100 Shimen Yi Lu",
                "100 Shimen Road No. 1",
                "100 Shimen 1st Road",
            ],
        ),
        (
            12,
            &[
                "陕西北路500号",
                "500 North Shaanxi Road",
                "500 Shaanxi Bei Lu",
                "500 Shanxi Bei Lu",
                "500 Shaanxi Rd (N)",
            ],
        ),
        (
            13,
            &[
                "茂名北路200号",
                "200 North Maoming Road",
                "200 Maoming Bei Lu",
            ],
        ),
        (14, &["常德路300号", "300 Changde Road", "300 Changde Lu"]),
        (15, &["铜仁路50号", "50 Tongren Road"]),
        (16, &["华山路100号", "100 Huashan Road"]),
        (17, &["威海路600号", "600 Weihai Road"]),
        (
            18,
            &[
                "北京西路1000号",
                "1000 West Beijing Road",
                "1000 Beijing Xi Lu",
            ],
        ),
        (19, &["愚园路200号", "200 Yuyuan Road"]),
        (20, &["万航渡路300号", "300 Wanhangdu Road"]),
        (21, &["西康路400号", "400 Xikang Road", "400 Xi Kang Road"]),
        (22, &["江宁路500号", "500 Jiangning Road"]),
        (23, &["泰兴路100号", "100 Taixing Road"]),
        (24, &["胶州路200号", "200 Jiaozhou Road"]),
        (
            25,
            &["延安西路300号", "300 West Yan'an Road", "300 Yan'an Xi Lu"],
        ),
        (
            40,
            &[
                "南京东路100号",
                "100 East Nanjing Road",
                "100 Nanjing Dong Lu",
            ],
        ),
        // 长 reads zhang or chang: both pinyin readings are indexed.
        (50, &["长宁路100号", "100 Changning Road"]),
    ];
    for (b, forms) in cases {
        assert_building(&ix, forms, *b);
    }
}

#[test]
fn east_is_not_west() {
    let ix = fixture();
    let m = miss(&ix, "南京东路1266号");
    assert!(m.reason.contains("1266"), "{}", m.reason);
    assert!(
        m.suggestions
            .iter()
            .all(|s| s.building != PLAZA66 || s.text.contains("西"))
    );
    assert!(ix.lookup("1266 East Nanjing Road").is_err());
    assert!(ix.lookup("南京西路100号").is_err());
    // No direction at all is another road, too.
    let m = miss(&ix, "1266 Nanjing Road");
    assert!(m.reason.contains("Nanjing Road"), "{}", m.reason);
    assert!(m.suggestions.iter().any(|s| s.text == "南京西路1266号"));
}

#[test]
fn unknown_road_suggests_similar_roads() {
    let ix = fixture();
    let m = miss(&ix, "1266 W Nanjin Road");
    assert_eq!(m.reason, "no road 'West Nanjin Road' in the atlas");
    assert_eq!(
        m.suggestions.first().map(|s| s.text.as_str()),
        Some("南京西路1266号")
    );
    assert!(m.suggestions.len() <= 5);

    let m = miss(&ix, "南京酉路1266号");
    assert_eq!(m.reason, "no road '南京酉路' in the atlas");
    assert!(m.suggestions.iter().any(|s| s.text == "南京西路1266号"));

    // A Chinese homophone is suggested, never taken.
    let m = miss(&ix, "山西北路500号");
    assert_eq!(m.reason, "no road '山西北路' in the atlas");
    assert_eq!(
        m.suggestions.first().map(|s| s.text.as_str()),
        Some("陕西北路500号")
    );

    let m = miss(&ix, "100 Qwxyz Road");
    assert!(m.suggestions.is_empty(), "{:?}", m.suggestions);
}

#[test]
fn unknown_number_suggests_nearest_same_side_first() {
    let ix = fixture();
    let m = miss(&ix, "南京西路1267号");
    assert_eq!(m.reason, "no number 1267 on 南京西路 in the atlas");
    let texts: Vec<&str> = m.suggestions.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "南京西路1265号",
            "南京西路1281号",
            "南京西路1201号",
            "南京西路1266号",
            "南京西路1270号"
        ]
    );
    let m = miss(&ix, "1268 West Nanjing Road");
    let texts: Vec<&str> = m.suggestions.iter().map(|s| s.text.as_str()).collect();
    assert_eq!(
        texts[..3],
        ["南京西路1266号", "南京西路1270号", "南京西路1260号"]
    );
    assert_eq!(m.suggestions[0].building, PLAZA66);

    let m = miss(&ix, "南京西路1394弄5号");
    assert!(m.reason.contains("lane 1394"), "{}", m.reason);
    assert_eq!(m.suggestions[0].text, "南京西路1394弄2号");

    let m = miss(&ix, "南京西路");
    assert!(m.reason.contains("no house number"), "{}", m.reason);
    assert!(!m.suggestions.is_empty());
}

#[test]
fn unknown_names_suggest_close_names() {
    let ix = fixture();
    let m = miss(&ix, "Plaza 67");
    assert!(m.reason.contains("Plaza 67"), "{}", m.reason);
    assert_eq!(m.suggestions[0].text, "Plaza 66");
    assert_eq!(m.suggestions[0].building, PLAZA66);
    let m = miss(&ix, "恒隆广");
    assert_eq!(m.suggestions[0].text, "恒隆广场");
    let m = miss(&ix, "zzzzzzzzzzzz");
    assert!(m.suggestions.is_empty());
}

#[test]
fn bad_input_is_a_miss_not_a_panic() {
    let ix = fixture();
    assert_eq!(miss(&ix, "").reason, "the address is empty");
    assert_eq!(miss(&ix, "   ").reason, "the address is empty");
    let long = "南京西路1266号".repeat(40);
    assert_eq!(
        miss(&ix, &long).reason,
        "the address is longer than 200 characters"
    );
    assert!(miss(&ix, "南京西路99999999号").reason.contains("99999999"));
    let mut b = AddressIndexBuilder::new();
    assert_eq!(b.add_address("", 1), Err(AddressError::Empty));
    assert_eq!(
        b.add_address("南京西路", 1),
        Err(AddressError::NoHouseNumber)
    );
    assert!(matches!(
        b.add_address("恒隆广场", 1),
        Err(AddressError::UnknownForm(_))
    ));
    assert!(matches!(
        b.add_address(&long, 1),
        Err(AddressError::TooLong { .. })
    ));
}

#[test]
fn names_indexed_apart_index_the_same() {
    // Shared names, a building repeating a name, and a name given by two buildings in turn.
    let names: &[(&str, u32)] = &[
        ("Tower", 1),
        ("TOWER", 1),
        ("Tower", 2),
        ("恒隆广场", 3),
        ("Plaza 66", 3),
        ("恒隆 广场", 4),
        ("Tower", 1),
        ("!!", 5),
        ("Kerry Centre", 6),
    ];
    let addrs: &[(&str, u32)] = &[
        ("华山路100号", 1),
        ("华山路100号", 2),
        ("南京西路1266号", 3),
    ];
    let mut one = AddressIndexBuilder::new();
    for &(a, id) in addrs {
        one.add_address(a, id).unwrap();
    }
    for &(n, id) in names {
        one.add_name(n, id);
    }
    let one = one.build();
    let mut addresses = AddressIndexBuilder::new();
    for &(a, id) in addrs {
        addresses.add_address(a, id).unwrap();
    }
    // Its own names are replaced.
    addresses.add_name("Elsewhere", 9);
    let mut theirs = AddressIndexBuilder::new();
    for &(n, id) in names {
        theirs.add_name(n, id);
    }
    let apart = addresses.build().with_names_of(theirs.build());
    assert_eq!(one.len(), apart.len());
    assert_eq!(one.address_count(), apart.address_count());
    for q in [
        "tower",
        "Tower",
        "恒隆广场",
        "Plaza 66",
        "plaza 67",
        "Kerry",
        "Kerry Centre",
        "华山路100号",
        "南京西路1266号",
        "恒隆广",
        "!!",
        "nothing here",
        "Elsewhere",
    ] {
        assert_eq!(
            format!("{:?}", apart.lookup(q)),
            format!("{:?}", one.lookup(q)),
            "{q}"
        );
    }
}

#[test]
fn duplicate_addresses_are_ambiguous() {
    let mut b = AddressIndexBuilder::new();
    b.add_address("华山路100号", 1).unwrap();
    b.add_address("华山路100号", 2).unwrap();
    b.add_address("华山路100号", 1).unwrap();
    b.add_name("Tower", 1);
    b.add_name("TOWER", 2);
    let ix = b.build();
    assert_eq!(ix.address_count(), 2);
    let m = miss(&ix, "100 Huashan Road");
    assert!(m.reason.contains("2 different buildings"), "{}", m.reason);
    let bs: Vec<u32> = m.suggestions.iter().map(|s| s.building).collect();
    assert_eq!(bs, [1, 2]);
    let m = miss(&ix, "tower");
    assert_eq!(m.suggestions.len(), 2);
}

#[test]
fn sub_numbers() {
    let mut b = AddressIndexBuilder::new();
    b.add_address("南京西路1266号", 1).unwrap();
    b.add_address("南京西路1266号B", 2).unwrap();
    let ix = b.build();
    assert_eq!(hit(&ix, "南京西路1266号").building, 1);
    assert_eq!(hit(&ix, "南京西路1266号b座").building, 2);
    assert_eq!(hit(&ix, "1266B West Nanjing Road").building, 2);
    assert_eq!(hit(&ix, "南京西路1266号B").matched, "南京西路1266号B");
    // An unknown sub-number falls back to the plain number.
    assert_eq!(hit(&ix, "南京西路1266号C").building, 1);
}

#[test]
fn english_indexed_addresses() {
    let mut b = AddressIndexBuilder::new();
    b.add_address("1266 West Nanjing Road", 7).unwrap();
    b.add_address("No. 2, Lane 1394, West Nanjing Road", 8)
        .unwrap();
    let ix = b.build();
    assert_eq!(hit(&ix, "南京西路1266号").building, 7);
    assert_eq!(
        hit(&ix, "1266 Nanjing Xi Lu").matched,
        "1266 West Nanjing Road"
    );
    assert_eq!(
        hit(&ix, "南京西路1394弄2号").matched,
        "No. 2, Lane 1394, West Nanjing Road"
    );
}

#[test]
fn whole_lane_address() {
    let mut b = AddressIndexBuilder::new();
    b.add_address("愚园路1088弄", 3).unwrap();
    b.add_address("愚园路1088弄5号", 4).unwrap();
    let ix = b.build();
    assert_eq!(hit(&ix, "愚园路1088弄").building, 3);
    assert_eq!(hit(&ix, "愚园路1088弄").matched, "愚园路1088弄");
    assert_eq!(hit(&ix, "Lane 1088 Yuyuan Road").building, 3);
    assert_eq!(hit(&ix, "愚园路1088弄5号").building, 4);
}

#[test]
fn suggestions_are_deterministic() {
    let a = fixture();
    let b = fixture();
    for q in [
        "1266 Nanjin Road",
        "南京西路1267号",
        "Plaza 67",
        "南京西路1500弄",
    ] {
        assert_eq!(a.lookup(q), b.lookup(q), "{q}");
    }
}

#[test]
fn serde_shapes() {
    let ix = fixture();
    let h = hit(&ix, "恒隆广场");
    let v = serde_json::to_value(&h).unwrap();
    assert_eq!(v["kind"], "name");
    assert_eq!(v["building"], PLAZA66);
    let h = hit(&ix, "南京西路1266号");
    assert_eq!(serde_json::to_value(&h).unwrap()["kind"], "address");
    let m = miss(&ix, "Plaza 67");
    let v = serde_json::to_value(&m).unwrap();
    assert_eq!(v["suggestions"][0]["text"], "Plaza 66");
    let n = normalize("南京西路1266号A").unwrap();
    let v = serde_json::to_value(&n).unwrap();
    assert_eq!(v["road"]["direction"], "west");
    assert_eq!(v["road"]["kind"], "road");
    assert_eq!(v["sub"], "A");
}

#[test]
fn normalize_public_api() {
    let n = normalize("上海市静安区南京西路1394弄2号").unwrap();
    assert_eq!(
        n,
        NormalizedAddress {
            road: RoadKey {
                base: "nanjing".into(),
                direction: Some(Dir::West),
                ordinal: None,
                kind: RoadKind::Road
            },
            lane: Some(1394),
            number: 2,
            sub: None,
        }
    );
    assert_eq!(n.english(), "No. 2, Lane 1394, West Nanjing Road");
    assert_eq!(normalize(&n.english()), Ok(n));
    assert_eq!(
        normalize("南京西路1394弄"),
        Err(AddressError::NoHouseNumber)
    );
    assert!(matches!(
        normalize("Plaza 66"),
        Err(AddressError::UnknownForm(_))
    ));
    assert_eq!(
        normalize("1266 W Nanjing Rd").unwrap().english(),
        "1266 West Nanjing Road"
    );
}

// ------------------------------------------------------------------ fuzzing

/// Characters that reach the deep paths of the parser.
fn address_char() -> impl Strategy<Value = char> {
    prop::sample::select(
        "南京西路东北中一二十号弄街道大公巷区市上海静安陕延石门 0123456789１２-–,.()（）#'’ WwNnRrLlOoAa\u{3000}ｒｏａｄ"
            .chars()
            .collect::<Vec<_>>(),
    )
}

const SYLLABLES: &[&str] = &[
    "nan", "jing", "yan", "an", "shi", "men", "shan", "xi", "mao", "ming", "chang", "de", "tong",
    "ren", "hua", "wei", "hai", "bei", "yu", "yuan", "wan", "hang", "du", "kang", "jiang", "ning",
    "tai", "xing", "jiao", "zhou", "guang", "fu", "ling", "qiao", "pu", "hong", "kou", "zhang",
];

fn is_keyword(w: &str) -> bool {
    road::kind_word(w).is_some()
        || road::dir_word(w).is_some()
        || road::english_ordinal_word(w).is_some()
        || road::pinyin_ordinal_word(w).is_some()
        || matches!(w, "shanghai" | "no" | "nong" | "lane" | "qu" | "china")
}

fn road_key() -> impl Strategy<Value = RoadKey> {
    (
        prop::collection::vec(prop::sample::select(SYLLABLES), 2..4),
        prop::option::of(prop::sample::select(vec![
            Dir::East,
            Dir::West,
            Dir::South,
            Dir::North,
            Dir::Middle,
        ])),
        prop::option::of(1u8..=99),
        prop::sample::select(vec![
            RoadKind::Road,
            RoadKind::Street,
            RoadKind::Avenue,
            RoadKind::Highway,
            RoadKind::Alley,
        ]),
    )
        .prop_filter_map("keyword base", |(syl, direction, ordinal, kind)| {
            let mut base = String::new();
            road::push_base(&mut base, &syl.concat());
            (!is_keyword(&base)).then_some(RoadKey {
                base,
                direction,
                ordinal,
                kind,
            })
        })
}

fn normalized() -> impl Strategy<Value = NormalizedAddress> {
    (
        road_key(),
        prop::option::of(1u32..=99_999),
        1u32..=99_999,
        prop::option::of(prop::sample::select(
            ('A'..='Z').map(String::from).collect::<Vec<_>>(),
        )),
    )
        .prop_map(|(road, lane, number, sub)| NormalizedAddress {
            road,
            lane,
            number,
            sub,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        let ix = fixture();
        let _ = ix.lookup(&s);
        let _ = normalize(&s);
        let mut b = AddressIndexBuilder::new();
        let _ = b.add_address(&s, 1);
        b.add_name(&s, 1);
        let ix = b.build();
        let _ = ix.lookup(&s);
        let _ = ix.lookup("南京西路1266号");
    }

    #[test]
    fn address_like_strings_never_panic(s in prop::collection::vec(address_char(), 0..60)) {
        let s: String = s.into_iter().collect();
        let ix = fixture();
        let _ = ix.lookup(&s);
        let _ = normalize(&s);
        let mut b = AddressIndexBuilder::new();
        if b.add_address(&s, 3).is_ok() {
            let ix = b.build();
            // What was indexed is found again.
            prop_assert_eq!(ix.lookup(&s).map(|h| h.building), Ok(3));
        }
    }

    #[test]
    fn english_rendering_round_trips(n in normalized()) {
        let text = n.english();
        prop_assert_eq!(normalize(&text), Ok(n.clone()), "{}", text);
        // And an index built from the English text finds it again.
        let mut b = AddressIndexBuilder::new();
        prop_assert!(b.add_address(&text, 9).is_ok());
        let ix = b.build();
        prop_assert_eq!(ix.lookup(&text).map(|h| h.building), Ok(9));
    }

    #[test]
    fn chinese_rendering_round_trips(
        name in prop::sample::select(vec!["南京", "延安", "石门", "陕西", "茂名", "愚园", "万航渡", "西康", "长宁", "胶州"]),
        dir in prop::sample::select(vec!["", "东", "西", "南", "北", "中"]),
        ord in prop::sample::select(vec!["", "一", "二", "十一"]),
        lane in prop::option::of(1u32..=9999),
        number in 1u32..=9999,
    ) {
        let mut text = format!("{name}{dir}{ord}路");
        if let Some(l) = lane {
            text.push_str(&format!("{l}弄"));
        }
        text.push_str(&format!("{number}号"));
        let n = normalize(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(normalize(&n.english()), Ok(n.clone()), "{} / {}", text, n.english());
        let mut b = AddressIndexBuilder::new();
        prop_assert!(b.add_address(&text, 5).is_ok());
        let ix = b.build();
        prop_assert_eq!(ix.lookup(&n.english()).map(|h| h.matched), Ok(text.clone()));
        prop_assert_eq!(ix.lookup(&format!("上海市静安区{text}")).map(|h| h.building), Ok(5));
    }
}

// ------------------------------------------------------------------ speed

/// `cargo test --release -- --ignored --nocapture million`: builds an index of
/// a million addresses and times lookups.
#[test]
#[ignore]
fn million_addresses_speed() {
    use std::time::Instant;
    let chars: Vec<char> =
        "南京延安石门陕茂名常德铜仁华山威海愚园万航渡康江宁泰兴胶州长寿昌平武定新闸康定西藏福建"
            .chars()
            .collect();
    let mut seen = std::collections::HashSet::new();
    let chars: Vec<char> = chars.into_iter().filter(|c| seen.insert(*c)).collect();
    let dirs = ["", "东", "西", "南", "北", "中"];
    let mut roads = Vec::new();
    'outer: for a in &chars {
        for b in &chars {
            for d in dirs {
                if a != b {
                    roads.push(format!("{a}{b}{d}路"));
                    if roads.len() == 2000 {
                        break 'outer;
                    }
                }
            }
        }
    }
    let mut addrs = Vec::with_capacity(1_000_000);
    for (i, r) in roads.iter().enumerate() {
        for n in 1..=500u32 {
            if n % 5 == 0 {
                addrs.push(format!("{r}{}弄{}号", n, i % 7 + 1));
            } else {
                addrs.push(format!("{r}{n}号"));
            }
        }
    }
    let t = Instant::now();
    let mut b = AddressIndexBuilder::new();
    for (i, a) in addrs.iter().enumerate() {
        b.add_address(a, i as u32).unwrap();
    }
    let ix = b.build();
    eprintln!(
        "built {} addresses in {:?}",
        ix.address_count(),
        t.elapsed()
    );

    let queries_zh: Vec<&str> = addrs
        .iter()
        .step_by(7)
        .map(String::as_str)
        .take(100_000)
        .collect();
    let queries_en: Vec<String> = queries_zh
        .iter()
        .map(|q| normalize(q).map(|n| n.english()).unwrap())
        .collect();
    for (name, qs) in [
        (
            "chinese",
            queries_zh.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        ),
        ("english", queries_en),
    ] {
        let t = Instant::now();
        let mut found = 0usize;
        let mut ambiguous = 0usize;
        for q in &qs {
            match ix.lookup(q) {
                Ok(_) => found += 1,
                // Different Chinese roads can share a pinyin spelling (南山路, 南陕路).
                Err(m) if m.reason.contains("different buildings") => ambiguous += 1,
                Err(m) => panic!("{q}: {}", m.reason),
            }
        }
        let el = t.elapsed();
        eprintln!(
            "{name}: {} lookups, {found} hits, {ambiguous} homophones, {:.0} lookups/s",
            qs.len(),
            qs.len() as f64 / el.as_secs_f64()
        );
        assert!(found * 10 >= qs.len() * 8);
    }
}
