//! Word lists and road naming.
//!
//! Shanghai names many of its roads after provinces and cities (南京路, 福州路, 四川北路), with a
//! direction word for the sections of a long road (延安西路 / 延安中路 / 延安东路) and ordinals
//! for parallel streets (石门一路, 石门二路). The generated city does the same.

use crate::address::{AddressIndexBuilder, Dir, RoadKey, RoadKind, normalize};

use super::rng::{Rng, Tag};

/// Provinces and prefecture-level cities. None is a Shanghai district (the address parser drops
/// those as prefixes), none holds a road-type character (路 街 巷 道) or an administrative one
/// (区 县 镇 乡), none ends in a numeral; each is checked against the address parser at run time.
const PLACES: &[&str] = &[
    "北京",
    "天津",
    "重庆",
    "河北",
    "山西",
    "辽宁",
    "吉林",
    "黑龙江",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "海南",
    "四川",
    "贵州",
    "云南",
    "陕西",
    "甘肃",
    "青海",
    "台湾",
    "香港",
    "澳门",
    "西藏",
    "宁夏",
    "新疆",
    "广西",
    "内蒙古",
    "石家庄",
    "唐山",
    "秦皇岛",
    "邯郸",
    "邢台",
    "保定",
    "张家口",
    "承德",
    "沧州",
    "廊坊",
    "衡水",
    "太原",
    "大同",
    "阳泉",
    "长治",
    "晋城",
    "朔州",
    "晋中",
    "运城",
    "忻州",
    "临汾",
    "吕梁",
    "呼和浩特",
    "包头",
    "乌海",
    "赤峰",
    "通辽",
    "鄂尔多斯",
    "呼伦贝尔",
    "巴彦淖尔",
    "乌兰察布",
    "沈阳",
    "大连",
    "鞍山",
    "抚顺",
    "本溪",
    "丹东",
    "锦州",
    "营口",
    "阜新",
    "辽阳",
    "盘锦",
    "铁岭",
    "朝阳",
    "葫芦岛",
    "长春",
    "四平",
    "辽源",
    "通化",
    "白山",
    "松原",
    "白城",
    "哈尔滨",
    "齐齐哈尔",
    "鸡西",
    "鹤岗",
    "双鸭山",
    "大庆",
    "伊春",
    "佳木斯",
    "七台河",
    "牡丹江",
    "黑河",
    "绥化",
    "南京",
    "无锡",
    "徐州",
    "常州",
    "苏州",
    "南通",
    "连云港",
    "淮安",
    "盐城",
    "扬州",
    "泰州",
    "宿迁",
    "杭州",
    "宁波",
    "温州",
    "嘉兴",
    "湖州",
    "绍兴",
    "金华",
    "衢州",
    "舟山",
    "台州",
    "丽水",
    "合肥",
    "芜湖",
    "蚌埠",
    "淮南",
    "马鞍山",
    "淮北",
    "铜陵",
    "安庆",
    "黄山",
    "滁州",
    "阜阳",
    "宿州",
    "六安",
    "亳州",
    "池州",
    "宣城",
    "福州",
    "厦门",
    "莆田",
    "三明",
    "泉州",
    "漳州",
    "南平",
    "龙岩",
    "宁德",
    "南昌",
    "九江",
    "新余",
    "鹰潭",
    "赣州",
    "吉安",
    "宜春",
    "抚州",
    "上饶",
    "济南",
    "青岛",
    "淄博",
    "枣庄",
    "东营",
    "烟台",
    "潍坊",
    "济宁",
    "泰安",
    "威海",
    "日照",
    "临沂",
    "德州",
    "聊城",
    "滨州",
    "菏泽",
    "郑州",
    "开封",
    "洛阳",
    "平顶山",
    "安阳",
    "鹤壁",
    "焦作",
    "濮阳",
    "许昌",
    "漯河",
    "三门峡",
    "南阳",
    "商丘",
    "信阳",
    "周口",
    "驻马店",
    "武汉",
    "黄石",
    "十堰",
    "宜昌",
    "襄阳",
    "鄂州",
    "荆门",
    "孝感",
    "荆州",
    "黄冈",
    "咸宁",
    "随州",
    "长沙",
    "株洲",
    "湘潭",
    "衡阳",
    "邵阳",
    "岳阳",
    "常德",
    "张家界",
    "益阳",
    "郴州",
    "永州",
    "怀化",
    "娄底",
    "广州",
    "韶关",
    "深圳",
    "珠海",
    "汕头",
    "佛山",
    "江门",
    "湛江",
    "茂名",
    "肇庆",
    "惠州",
    "梅州",
    "汕尾",
    "河源",
    "阳江",
    "清远",
    "东莞",
    "中山",
    "潮州",
    "揭阳",
    "云浮",
    "南宁",
    "柳州",
    "桂林",
    "梧州",
    "北海",
    "防城港",
    "钦州",
    "贵港",
    "玉林",
    "百色",
    "贺州",
    "河池",
    "来宾",
    "崇左",
    "海口",
    "三亚",
    "儋州",
    "成都",
    "自贡",
    "攀枝花",
    "泸州",
    "德阳",
    "绵阳",
    "广元",
    "遂宁",
    "内江",
    "乐山",
    "南充",
    "眉山",
    "宜宾",
    "广安",
    "达州",
    "雅安",
    "巴中",
    "资阳",
    "贵阳",
    "遵义",
    "安顺",
    "毕节",
    "铜仁",
    "昆明",
    "曲靖",
    "玉溪",
    "保山",
    "昭通",
    "丽江",
    "普洱",
    "临沧",
    "拉萨",
    "日喀则",
    "昌都",
    "林芝",
    "那曲",
    "西安",
    "铜川",
    "宝鸡",
    "咸阳",
    "渭南",
    "延安",
    "汉中",
    "榆林",
    "安康",
    "商洛",
    "兰州",
    "嘉峪关",
    "金昌",
    "白银",
    "天水",
    "武威",
    "张掖",
    "平凉",
    "酒泉",
    "庆阳",
    "定西",
    "陇南",
    "西宁",
    "海东",
    "银川",
    "石嘴山",
    "吴忠",
    "固原",
    "中卫",
    "乌鲁木齐",
    "克拉玛依",
    "吐鲁番",
    "哈密",
    "喀什",
    "和田",
    "伊犁",
    "阿克苏",
    "库尔勒",
    "威宁",
    "胶州",
    "昆山",
    "常熟",
    "江阴",
    "义乌",
    "慈溪",
    "余姚",
    "海宁",
    "桐乡",
    "诸暨",
    "瑞安",
    "乐清",
    "晋江",
    "石狮",
    "福清",
    "寿光",
    "即墨",
    "莱州",
    "龙口",
    "招远",
    "蓬莱",
    "曲阜",
    "邹城",
    "滕州",
    "敦煌",
    "格尔木",
    "满洲里",
    "二连浩特",
    "瑞丽",
    "凭祥",
    "井冈山",
    "韶山",
    "婺源",
    "庐山",
    "峨眉",
    "武夷",
];

/// Chinese numerals 1..=9 for ordinal roads (一路 … 九路).
const ORDINALS: [&str; 9] = ["一", "二", "三", "四", "五", "六", "七", "八", "九"];

/// Common surnames for fictitious people.
pub(crate) const SURNAMES: &[&str] = &[
    "张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧", "程", "曹",
    "袁", "邓", "许", "傅", "沈", "曾", "彭", "吕", "苏", "卢", "蒋", "蔡", "贾", "丁", "魏", "薛",
    "叶", "阎", "余", "潘", "杜", "戴", "夏", "钟", "汪", "田", "任", "姜", "范", "方", "石", "姚",
    "谭", "廖", "邹", "熊", "金", "陆", "郝", "孔", "白", "崔", "康", "毛", "邱", "秦", "江", "史",
    "顾", "侯", "邵", "孟", "龙", "万", "段", "钱", "汤", "尹", "黎", "易", "常", "武", "乔", "贺",
];

/// Given names that say the person is not real (as in the sample data).
pub(crate) const GIVEN: &[&str] = &["示例", "样本", "演示", "范例", "模拟", "虚构"];

/// First words of building names, with an English (pinyin) form.
pub(crate) const NAME_WORDS: &[(&str, &str)] = &[
    ("金茂", "Jinmao"),
    ("恒丰", "Hengfeng"),
    ("永安", "Yong'an"),
    ("华润", "Huarun"),
    ("中信", "Zhongxin"),
    ("新华", "Xinhua"),
    ("东方", "Dongfang"),
    ("汇丰", "Huifeng"),
    ("嘉里", "Jiali"),
    ("华夏", "Huaxia"),
    ("世纪", "Shiji"),
    ("环球", "Huanqiu"),
    ("长江", "Changjiang"),
    ("锦江", "Jinjiang"),
    ("瑞安", "Rui'an"),
    ("兴业", "Xingye"),
    ("金鹰", "Jinying"),
    ("协和", "Xiehe"),
    ("丰盛", "Fengsheng"),
    ("鼎盛", "Dingsheng"),
    ("荣华", "Ronghua"),
    ("宝华", "Baohua"),
    ("光明", "Guangming"),
    ("华侨", "Huaqiao"),
    ("凯旋", "Kaixuan"),
    ("银河", "Yinhe"),
    ("星光", "Xingguang"),
    ("海天", "Haitian"),
    ("明珠", "Mingzhu"),
    ("恒隆", "Henglong"),
    ("万通", "Wantong"),
    ("中实", "Zhongshi"),
    ("安泰", "Antai"),
    ("嘉华", "Jiahua"),
    ("新世界", "Xinshijie"),
    ("远洋", "Yuanyang"),
    ("国信", "Guoxin"),
    ("泰富", "Taifu"),
    ("盛邦", "Shengbang"),
    ("德基", "Deji"),
    ("华联", "Hualian"),
    ("宏伊", "Hongyi"),
    ("百联", "Bailian"),
    ("云峰", "Yunfeng"),
    ("晶品", "Jingpin"),
    ("越洋", "Yueyang"),
    ("静悦", "Jingyue"),
    ("雅居", "Yaju"),
    ("和平", "Heping"),
    ("春申", "Chunshen"),
    ("申华", "Shenhua"),
    ("海通", "Haitong"),
    ("国泰", "Guotai"),
    ("同盛", "Tongsheng"),
    ("创智", "Chuangzhi"),
    ("科华", "Kehua"),
    ("正大", "Zhengda"),
    ("富民", "Fumin"),
    ("康桥", "Kangqiao"),
    ("金桥", "Jinqiao"),
];

/// What a building is used for; drives its height and workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    Office,
    Mall,
    Hotel,
    Apartment,
    Park,
}

/// Last words of building names: Chinese, English, use. Repeats weight the choice.
pub(crate) const SUFFIXES: &[(&str, &str, Use)] = &[
    ("大厦", "Tower", Use::Office),
    ("大厦", "Tower", Use::Office),
    ("大厦", "Tower", Use::Office),
    ("国际大厦", "International Tower", Use::Office),
    ("国际大厦", "International Tower", Use::Office),
    ("中心", "Centre", Use::Office),
    ("中心", "Centre", Use::Office),
    ("金融中心", "Financial Centre", Use::Office),
    ("商务楼", "Business Building", Use::Office),
    ("商务楼", "Business Building", Use::Office),
    ("大楼", "Building", Use::Office),
    ("广场", "Plaza", Use::Mall),
    ("广场", "Plaza", Use::Mall),
    ("商厦", "Shopping Centre", Use::Mall),
    ("购物中心", "Mall", Use::Mall),
    ("大酒店", "Grand Hotel", Use::Hotel),
    ("酒店", "Hotel", Use::Hotel),
    ("公寓", "Apartments", Use::Apartment),
    ("服务式公寓", "Serviced Apartments", Use::Apartment),
    ("科技园", "Tech Park", Use::Park),
    ("创意园", "Creative Park", Use::Park),
    ("产业园", "Industrial Park", Use::Park),
];

/// Specialties of service-team members and the district departments they come from.
pub(crate) const SPECIALTIES: &[(&str, &[&str])] = &[
    (
        "industrial support",
        &["区商务委", "区投资促进办", "区科委"],
    ),
    (
        "administrative approval",
        &["区行政服务中心", "区政务服务办"],
    ),
    ("taxes and finance", &["区税务局", "区财政局", "区金融办"]),
    ("talent services", &["区人社局", "区人才服务中心"]),
    ("legal services", &["区司法局", "区公共法律服务中心"]),
    ("market supervision", &["区市场监管局"]),
];

/// Chinese numeral for 1..=99 (一, 十, 十一, 二十三).
pub(crate) fn zh_number(n: u32) -> String {
    const D: [&str; 10] = ["", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    match n {
        0 => "零".into(),
        1..=9 => D[n as usize].into(),
        10..=19 => format!("十{}", D[(n % 10) as usize]),
        20..=99 => format!("{}十{}", D[(n / 10) as usize], D[(n % 10) as usize]),
        _ => n.to_string(),
    }
}

/// A named road (one section of a street-grid line, or several sections).
#[derive(Debug, Clone)]
pub(crate) struct Road {
    /// 湖北西路
    pub name: String,
    /// How the address parser reads the name.
    pub key: RoadKey,
    /// West Hubei Road
    pub english: String,
    /// The proper name: 湖北
    pub base: String,
    /// Its pinyin, capitalised: Hubei
    pub base_en: String,
}

/// One line of the street grid, cut into sections that each carry one road name.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    /// Segment index where each section starts, then the segment count.
    pub bounds: Vec<usize>,
    /// Road of each section (index into the road table).
    pub roads: Vec<u32>,
    /// House numbers of the section grow against the line's index order (the 西 and 南
    /// sections of a road number away from the centre of the city).
    pub reversed: Vec<bool>,
}

impl Line {
    /// Section holding segment `k`.
    pub fn section(&self, k: usize) -> usize {
        match self.bounds.binary_search(&k) {
            Ok(s) => s.min(self.roads.len() - 1),
            Err(s) => s - 1,
        }
    }
}

/// A proper name usable for roads.
#[derive(Debug, Clone)]
struct Base {
    zh: &'static str,
}

/// Road-name variants a base may be used in.
fn variants(base: &str) -> Vec<(String, Option<Dir>, Option<u8>, RoadKind)> {
    let mut out = Vec::new();
    for (suffix, kind) in [("路", RoadKind::Road), ("街", RoadKind::Street)] {
        out.push((format!("{base}{suffix}"), None, None, kind));
        for (d, dir) in [
            ("东", Dir::East),
            ("西", Dir::West),
            ("南", Dir::South),
            ("北", Dir::North),
            ("中", Dir::Middle),
        ] {
            out.push((format!("{base}{d}{suffix}"), Some(dir), None, kind));
        }
        for (k, o) in ORDINALS.iter().enumerate() {
            out.push((format!("{base}{o}{suffix}"), None, Some(k as u8 + 1), kind));
        }
    }
    out.push((format!("{base}大道"), None, None, RoadKind::Avenue));
    out
}

/// The places whose every road-name variant the address index reads back exactly (same
/// Chinese road, expected direction, ordinal and kind), without two sharing a pinyin base.
fn usable_bases() -> Vec<Base> {
    let mut builder = AddressIndexBuilder::new();
    let mut probes = Vec::new();
    for (p, &place) in PLACES.iter().enumerate() {
        for (v, variant) in variants(place).into_iter().enumerate() {
            let address = format!("{}1号", variant.0);
            let id = (p * 64 + v) as u32;
            if builder.add_address(&address, id).is_ok() {
                probes.push((p, id, address, variant));
            }
        }
    }
    let index = builder.build();
    let mut good = vec![true; PLACES.len()];
    let mut pinyin: Vec<Option<String>> = vec![None; PLACES.len()];
    let mut probed = vec![0usize; PLACES.len()];
    for (p, id, address, (_, dir, ordinal, kind)) in &probes {
        probed[*p] += 1;
        let ok = match (index.lookup(address), normalize(address)) {
            (Ok(hit), Ok(norm)) => {
                let base_ok = match &pinyin[*p] {
                    Some(b) => *b == norm.road.base,
                    None => {
                        pinyin[*p] = Some(norm.road.base.clone());
                        true
                    }
                };
                hit.building == *id
                    && hit.matched == *address
                    && norm.road.direction == *dir
                    && norm.road.ordinal == *ordinal
                    && norm.road.kind == *kind
                    && norm.lane.is_none()
                    && norm.number == 1
                    && base_ok
            }
            _ => false,
        };
        if !ok {
            good[*p] = false;
        }
    }
    let expected = variants("X").len();
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (p, &place) in PLACES.iter().enumerate() {
        if !good[p] || probed[p] != expected {
            continue;
        }
        let Some(b) = pinyin[p].clone() else { continue };
        if b.is_empty() || !seen.insert(b.clone()) {
            continue;
        }
        out.push(Base { zh: place });
    }
    out
}

/// Road names for a run of sections: the base with no direction, or with directions in
/// the line's index order (west → east, south → north).
struct NameSupply {
    bases: Vec<Base>,
    /// Next base for plain and directional names, over the kinds 路 then 街.
    next_plain: usize,
    /// Next (base, kind) unit for ordinal names, and the next ordinal in it.
    next_ordinal_unit: usize,
    next_ordinal: usize,
    rng: Rng,
}

const PLAIN_KINDS: [(&str, RoadKind); 2] = [("路", RoadKind::Road), ("街", RoadKind::Street)];

impl NameSupply {
    fn plain_capacity(&self) -> usize {
        self.bases.len() * PLAIN_KINDS.len()
    }

    /// Names for `len` consecutive sections of one line (1..=3).
    fn run(&mut self, len: usize, north_south: bool) -> Option<Vec<(String, Dir, bool)>> {
        if self.next_plain < self.plain_capacity() {
            let k = self.next_plain;
            self.next_plain += 1;
            let base = self.bases[k % self.bases.len()].zh;
            let (suffix, _) = PLAIN_KINDS[k / self.bases.len()];
            if len == 1 {
                // A road of one section: 路, sometimes 大道 (only for 路 names, once per base).
                let name = if suffix == "路" && self.rng.chance(0.08) {
                    format!("{base}大道")
                } else {
                    format!("{base}{suffix}")
                };
                return Some(vec![(name, Dir::Middle, false)]);
            }
            let dirs: &[(&str, Dir, bool)] = match (len, north_south) {
                (2, true) => &[("南", Dir::South, true), ("北", Dir::North, false)],
                (2, false) => &[("西", Dir::West, true), ("东", Dir::East, false)],
                (_, true) => &[
                    ("南", Dir::South, true),
                    ("中", Dir::Middle, false),
                    ("北", Dir::North, false),
                ],
                (_, false) => &[
                    ("西", Dir::West, true),
                    ("中", Dir::Middle, false),
                    ("东", Dir::East, false),
                ],
            };
            return Some(
                dirs.iter()
                    .map(|&(d, dir, rev)| (format!("{base}{d}{suffix}"), dir, rev))
                    .collect(),
            );
        }
        // Ordinal streets: 湖北一路, 湖北二路, … consecutive along the line.
        if self.next_ordinal + len > ORDINALS.len() {
            self.next_ordinal_unit += 1;
            self.next_ordinal = 0;
        }
        let unit = self.next_ordinal_unit;
        if unit >= self.plain_capacity() {
            return None;
        }
        let base = self.bases[unit % self.bases.len()].zh;
        let (suffix, _) = PLAIN_KINDS[unit / self.bases.len()];
        let names = (0..len)
            .map(|s| {
                (
                    format!("{base}{}{suffix}", ORDINALS[self.next_ordinal + s]),
                    Dir::Middle,
                    false,
                )
            })
            .collect();
        self.next_ordinal += len;
        Some(names)
    }
}

/// Sections of a line of `segments` segments: at most six, about 24 blocks each.
fn section_bounds(segments: usize) -> Vec<usize> {
    let sections = segments.div_ceil(24).clamp(1, 6).min(segments.max(1));
    (0..=sections).map(|k| k * segments / sections).collect()
}

/// Runs of sections sharing one base name: 1–3 sections each.
fn runs(sections: usize) -> Vec<usize> {
    match sections {
        0 => vec![],
        1..=3 => vec![sections],
        4 => vec![2, 2],
        5 => vec![3, 2],
        n => {
            let mut v = vec![3; n / 3];
            if n % 3 != 0 {
                v.push(n % 3);
            }
            v
        }
    }
}

/// The road table and the sections of every north–south and east–west line.
pub(crate) struct RoadNetwork {
    pub roads: Vec<Road>,
    pub ns: Vec<Line>,
    pub ew: Vec<Line>,
}

/// Names every line of a street grid with `ns_lines` north–south lines of `ns_segments`
/// segments each and `ew_lines` east–west lines of `ew_segments` segments each. Every road
/// name is distinct. `None` when the names run out (far beyond the largest city allowed).
pub(crate) fn name_roads(
    seed: u64,
    ns_lines: usize,
    ns_segments: usize,
    ew_lines: usize,
    ew_segments: usize,
) -> Option<RoadNetwork> {
    let mut rng = Rng::new(seed, Tag::Names, 0, 0);
    let mut bases = usable_bases();
    rng.shuffle(&mut bases);
    let mut supply = NameSupply {
        bases,
        next_plain: 0,
        next_ordinal_unit: 0,
        next_ordinal: 0,
        rng: Rng::new(seed, Tag::Names, 1, 0),
    };
    let mut roads: Vec<Road> = Vec::new();
    let mut line = |segments: usize, north_south: bool| -> Option<Line> {
        let bounds = section_bounds(segments);
        let mut line = Line {
            bounds,
            roads: Vec::new(),
            reversed: Vec::new(),
        };
        for len in runs(line.bounds.len() - 1) {
            for (name, _, reversed) in supply.run(len, north_south)? {
                let road = make_road(&name)?;
                line.roads.push(roads.len() as u32);
                line.reversed.push(reversed);
                roads.push(road);
            }
        }
        Some(line)
    };
    // Alternately, so that both directions get plain names before the ordinal ones.
    let mut ns = Vec::with_capacity(ns_lines);
    let mut ew = Vec::with_capacity(ew_lines);
    for k in 0..ns_lines.max(ew_lines) {
        if k < ns_lines {
            ns.push(line(ns_segments, true)?);
        }
        if k < ew_lines {
            ew.push(line(ew_segments, false)?);
        }
    }
    Some(RoadNetwork { roads, ns, ew })
}

fn make_road(name: &str) -> Option<Road> {
    let key = normalize(&format!("{name}1号")).ok()?.road;
    let mut base = name
        .trim_end_matches(['路', '街'])
        .trim_end_matches("大道")
        .to_string();
    // The ordinal (一 … 九) or direction word before the road type is one character.
    if key.ordinal.is_some() || key.direction.is_some() {
        base.pop();
    }
    let mut chars = key.base.chars();
    let base_en = match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    };
    Some(Road {
        name: name.to_string(),
        english: key.english(),
        key,
        base,
        base_en,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_places_are_usable_and_distinct() {
        let bases = usable_bases();
        assert!(bases.len() > 300, "{} usable", bases.len());
        let mut pinyin: Vec<String> = bases
            .iter()
            .map(|b| {
                normalize(&format!("{}路1号", b.zh))
                    .expect("parses")
                    .road
                    .base
            })
            .collect();
        pinyin.sort();
        pinyin.dedup();
        assert_eq!(pinyin.len(), bases.len());
    }

    #[test]
    fn roads_are_named_distinctly() {
        // A city of about five million buildings: 520 lines of 520 segments each way.
        let net = name_roads(3, 520, 520, 520, 520).expect("names");
        let mut names: Vec<&str> = net.roads.iter().map(|r| r.name.as_str()).collect();
        names.sort();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
        assert!(net.roads.iter().any(|r| r.name.ends_with("西路")));
        assert!(net.roads.iter().any(|r| r.key.ordinal.is_some()));
        let r = net
            .roads
            .iter()
            .find(|r| r.name.ends_with("西路"))
            .expect("西路");
        assert!(r.english.starts_with("West "), "{}", r.english);
        assert!(!r.base.ends_with('西'), "{}", r.base);
        for line in net.ns.iter().chain(&net.ew) {
            assert_eq!(line.roads.len(), line.bounds.len() - 1);
            assert_eq!(line.section(0), 0);
            assert_eq!(line.section(519), line.roads.len() - 1);
        }
    }

    #[test]
    fn chinese_numbers() {
        assert_eq!(zh_number(1), "一");
        assert_eq!(zh_number(10), "十");
        assert_eq!(zh_number(12), "十二");
        assert_eq!(zh_number(40), "四十");
        assert_eq!(zh_number(47), "四十七");
    }
}
