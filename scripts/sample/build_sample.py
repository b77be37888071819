#!/usr/bin/env python3
"""Build the gridatlas sample data folder geodata/ (West Nanjing Road business district).

Pipeline: named roads (WGS84 polylines through named junction nodes)
  -> road-bounded blocks = building-group grids
  -> neighborhood grids = union of their blocks (they share road centrelines exactly)
  -> building grids = parcels inside a group (Voronoi cell of the building, set back from
     the road centreline, limited to a box around the building)
  -> footprints = a rectangle aligned with West Nanjing Road, clipped a few metres inside the parcel
plus people.csv, leaders.csv, teams.json and README.md (with workload totals computed here).

Coordinates: WGS84 lon/lat (EPSG:4326). Junction positions are from general knowledge of the
real street network, calibrated on two OSM footprint centres (Jing'an Temple 121.4406,31.2255;
Shanghai Exhibition Centre 121.4480,31.2269). They are approximate (tens of metres).

Usage: python3 scripts/sample/build_sample.py   (writes geodata/ next to scripts/)
Requires: shapely >= 2, pyproj.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import shapely
from pyproj import Geod
from shapely import voronoi_polygons
from shapely.geometry import LineString, MultiPoint, Point, Polygon
from shapely.geometry.polygon import orient
from shapely.ops import unary_union
from shapely import affinity

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "geodata"
VALID_FROM = "2024-01-01T00:00:00Z"
GEOD = Geod(ellps="WGS84")

# ---------------------------------------------------------------------------
# Local metric frame: an affine map (so straight edges stay straight) scaled by the
# geodesic length of one degree at the centre of the area.
LON0, LAT0 = 121.452, 31.227
KX = GEOD.inv(LON0 - 0.005, LAT0, LON0 + 0.005, LAT0)[2] / 0.01  # metres per degree lon
KY = GEOD.inv(LON0, LAT0 - 0.005, LON0, LAT0 + 0.005)[2] / 0.01  # metres per degree lat


def to_m(lon: float, lat: float):
    return ((lon - LON0) * KX, (lat - LAT0) * KY)


def geom_to_m(g):
    return shapely.transform(g, lambda a: (a - (LON0, LAT0)) * (KX, KY))


def geom_to_deg(g):
    return shapely.transform(g, lambda a: a / (KX, KY) + (LON0, LAT0))


# ---------------------------------------------------------------------------
# Junction nodes (lon, lat). Naming: <road-crossed>_<cross street>.
# N_* on 南京西路 (West Nanjing Road), Y_* on 延安中路/延安西路 (Yan'an Road),
# W_* on 威海路, B_* on 北京西路, U_* on 愚园路.
NODES = {
    # 南京西路, west -> east. Bends a little: ~28 deg north of east at Jing'an Temple,
    # ~13 deg near Shimen Road No.1. Placed so the temple footprint centre (121.4406, 31.2255)
    # is ~60 m north of the road and the Exhibition Centre (121.4480, 31.2269) ~150 m south.
    "N_wlm": (121.4366, 31.2233),  # 乌鲁木齐北路
    "N_hs": (121.4390, 31.2243),   # 华山路 (south) / 万航渡路 (north), west of the temple
    "N_cd": (121.4424, 31.2257),   # 常德路
    "N_tr": (121.4458, 31.2274),   # 铜仁路
    "N_xk": (121.4494, 31.2289),   # 西康路 (north side only)
    "N_sb": (121.4528, 31.2300),   # 陕西北路
    "N_jn": (121.4583, 31.2313),   # 江宁路 (north) / 茂名北路 (south)
    "N_sm": (121.4630, 31.2322),   # 石门一路 (lon given in the brief, ~121.463)
    "N_qh": (121.4662, 31.2328),   # 青海路 (south side only); east edge of the 大中里/太古汇 block
    # 延安中路 (延安西路 west of 华山路), ~190-250 m south of 南京西路; elevated road centreline.
    "Y_wlm": (121.4360, 31.2206),
    "Y_hs": (121.4388, 31.2215),
    "Y_cd": (121.4424, 31.2230),
    "Y_tr": (121.4458, 31.2245),
    "Y_sb": (121.4528, 31.2266),
    "Y_mm": (121.4583, 31.2278),
    "Y_sm": (121.4630, 31.2287),
    # 威海路, halfway between 南京西路 and 延安中路, from 青海路 west to 陕西北路.
    "W_sb": (121.4528, 31.2283),
    "W_mm": (121.4583, 31.2295),
    "W_sm": (121.4630, 31.2304),
    "W_qh": (121.4662, 31.2309),
    # 北京西路, ~330 m north of 南京西路, west end at 常德路 where 愚园路 begins.
    "B_cd": (121.4410, 31.2290),
    "B_tr": (121.4446, 31.2306),
    "B_xk": (121.4483, 31.2319),
    "B_sb": (121.4518, 31.2330),
    "B_jn": (121.4575, 31.2344),
    "B_sm": (121.4624, 31.2352),
    # 愚园路 west of 常德路; 百乐门 stands at its corner with 万航渡路.
    "U_whd": (121.4378, 31.2272),
    "U_wlm": (121.4356, 31.2262),
}

# Roads as named polylines through the nodes (order along the road).
ROADS = {
    "南京西路": ("West Nanjing Road", ["N_wlm", "N_hs", "N_cd", "N_tr", "N_xk", "N_sb", "N_jn", "N_sm", "N_qh"]),
    "延安中路": ("Middle Yan'an Road", ["Y_hs", "Y_cd", "Y_tr", "Y_sb", "Y_mm", "Y_sm"]),
    "延安西路": ("West Yan'an Road", ["Y_wlm", "Y_hs"]),
    "威海路": ("Weihai Road", ["W_sb", "W_mm", "W_sm", "W_qh"]),
    "北京西路": ("West Beijing Road", ["B_cd", "B_tr", "B_xk", "B_sb", "B_jn", "B_sm"]),
    "愚园路": ("Yuyuan Road", ["U_wlm", "U_whd", "B_cd"]),
    "乌鲁木齐北路": ("North Urumqi Road", ["Y_wlm", "N_wlm", "U_wlm"]),
    "华山路": ("Huashan Road", ["Y_hs", "N_hs"]),
    "万航渡路": ("Wanhangdu Road", ["N_hs", "U_whd"]),
    "常德路": ("Changde Road", ["Y_cd", "N_cd", "B_cd"]),
    "铜仁路": ("Tongren Road", ["Y_tr", "N_tr", "B_tr"]),
    "西康路": ("Xikang Road", ["N_xk", "B_xk"]),
    "陕西北路": ("North Shaanxi Road", ["Y_sb", "W_sb", "N_sb", "B_sb"]),
    "茂名北路": ("North Maoming Road", ["Y_mm", "W_mm", "N_jn"]),
    "江宁路": ("Jiangning Road", ["N_jn", "B_jn"]),
    "石门一路": ("Shimen Road No.1", ["Y_sm", "W_sm", "N_sm", "B_sm"]),
    "青海路": ("Qinghai Road", ["W_qh", "N_qh"]),
}


def path(road: str, a: str, b: str) -> list[str]:
    """Nodes of `road` from a to b inclusive (either direction)."""
    nodes = ROADS[road][1]
    i, j = nodes.index(a), nodes.index(b)
    return nodes[i:j + 1] if i <= j else nodes[j:i + 1][::-1]


def ring(*legs: tuple[str, str, str]) -> Polygon:
    """A block bounded by road legs (road, from, to); consecutive legs share their end node."""
    names: list[str] = []
    for road, a, b in legs:
        p = path(road, a, b)
        if names:
            assert names[-1] == p[0], (names[-1], p[0], road)
            p = p[1:]
        names += p
    assert names[0] == names[-1], f"ring not closed: {names}"
    poly = Polygon([NODES[n] for n in names])
    assert poly.is_valid, names
    return orient(poly, 1.0)


# ---------------------------------------------------------------------------
# Grid hierarchy. Codes: neighborhood = 9-digit sub-district code + 2 digits,
# building group = neighborhood + 2 digits, building = group + 3 digits.
NJXL, JAS = "310106012", "310106013"  # 南京西路街道, 静安寺街道

NEIGHBORHOODS = [
    # code, name, name_en
    (NJXL + "01", "南京西路街道 第1街区网格", "West Nanjing Road Sub-district, Neighborhood 1 (north of West Nanjing Rd, Shimen Rd No.1 - N. Shaanxi Rd)"),
    (NJXL + "02", "南京西路街道 第2街区网格", "West Nanjing Road Sub-district, Neighborhood 2 (south of West Nanjing Rd, Qinghai Rd - N. Shaanxi Rd)"),
    (NJXL + "03", "南京西路街道 第3街区网格", "West Nanjing Road Sub-district, Neighborhood 3 (N. Shaanxi Rd - Tongren Rd)"),
    (JAS + "01", "静安寺街道 第1街区网格", "Jing'an Temple Sub-district, Neighborhood 1 (north of West Nanjing Rd, Tongren Rd - N. Urumqi Rd)"),
    (JAS + "02", "静安寺街道 第2街区网格", "Jing'an Temple Sub-district, Neighborhood 2 (south of West Nanjing Rd, Tongren Rd - N. Urumqi Rd)"),
]

# Building groups: road-bounded blocks; together they tile their neighborhood.
GROUPS = [
    # code, name, name_en, block
    (NJXL + "0101", "吴江路楼宇群网格", "Wujiang Road building group",
     ring(("南京西路", "N_jn", "N_sm"), ("石门一路", "N_sm", "B_sm"), ("北京西路", "B_sm", "B_jn"), ("江宁路", "B_jn", "N_jn"))),
    (NJXL + "0102", "梅龙镇·中信泰富楼宇群网格", "Westgate - CITIC Square building group",
     ring(("南京西路", "N_sb", "N_jn"), ("江宁路", "N_jn", "B_jn"), ("北京西路", "B_jn", "B_sb"), ("陕西北路", "B_sb", "N_sb"))),
    (NJXL + "0201", "兴业太古汇楼宇群网格", "HKRI Taikoo Hui building group",
     ring(("南京西路", "N_sm", "N_qh"), ("青海路", "N_qh", "W_qh"), ("威海路", "W_qh", "W_sm"), ("石门一路", "W_sm", "N_sm"))),
    (NJXL + "0202", "张园楼宇群网格", "Zhangyuan building group",
     ring(("南京西路", "N_jn", "N_sm"), ("石门一路", "N_sm", "W_sm"), ("威海路", "W_sm", "W_mm"), ("茂名北路", "W_mm", "N_jn"))),
    (NJXL + "0203", "静安别墅·金鹰楼宇群网格", "Jing'an Villa - Golden Eagle building group",
     ring(("南京西路", "N_sb", "N_jn"), ("茂名北路", "N_jn", "W_mm"), ("威海路", "W_mm", "W_sb"), ("陕西北路", "W_sb", "N_sb"))),
    (NJXL + "0204", "威海路南楼宇群网格", "South of Weihai Road building group",
     ring(("威海路", "W_sb", "W_sm"), ("石门一路", "W_sm", "Y_sm"), ("延安中路", "Y_sm", "Y_sb"), ("陕西北路", "Y_sb", "W_sb"))),
    (NJXL + "0301", "恒隆广场楼宇群网格", "Plaza 66 building group",
     ring(("南京西路", "N_xk", "N_sb"), ("陕西北路", "N_sb", "B_sb"), ("北京西路", "B_sb", "B_xk"), ("西康路", "B_xk", "N_xk"))),
    (NJXL + "0302", "上海商城楼宇群网格", "Shanghai Centre building group",
     ring(("南京西路", "N_tr", "N_xk"), ("西康路", "N_xk", "B_xk"), ("北京西路", "B_xk", "B_tr"), ("铜仁路", "B_tr", "N_tr"))),
    (NJXL + "0303", "上海展览中心楼宇群网格", "Shanghai Exhibition Centre building group",
     ring(("延安中路", "Y_tr", "Y_sb"), ("陕西北路", "Y_sb", "N_sb"), ("南京西路", "N_sb", "N_tr"), ("铜仁路", "N_tr", "Y_tr"))),
    (JAS + "0101", "久光·常德路楼宇群网格", "Jiuguang - Changde Road building group",
     ring(("南京西路", "N_cd", "N_tr"), ("铜仁路", "N_tr", "B_tr"), ("北京西路", "B_tr", "B_cd"), ("常德路", "B_cd", "N_cd"))),
    (JAS + "0102", "静安寺楼宇群网格", "Jing'an Temple building group",
     ring(("南京西路", "N_hs", "N_cd"), ("常德路", "N_cd", "B_cd"), ("愚园路", "B_cd", "U_whd"), ("万航渡路", "U_whd", "N_hs"))),
    (JAS + "0103", "百乐门·愚园路楼宇群网格", "Paramount - Yuyuan Road building group",
     ring(("南京西路", "N_wlm", "N_hs"), ("万航渡路", "N_hs", "U_whd"), ("愚园路", "U_whd", "U_wlm"), ("乌鲁木齐北路", "U_wlm", "N_wlm"))),
    (JAS + "0201", "静安嘉里中心楼宇群网格", "Jing An Kerry Centre building group",
     ring(("延安中路", "Y_cd", "Y_tr"), ("铜仁路", "Y_tr", "N_tr"), ("南京西路", "N_tr", "N_cd"), ("常德路", "N_cd", "Y_cd"))),
    (JAS + "0202", "越洋广场·静安公园楼宇群网格", "Park Place - Jing'an Park building group",
     ring(("延安中路", "Y_hs", "Y_cd"), ("常德路", "Y_cd", "N_cd"), ("南京西路", "N_cd", "N_hs"), ("华山路", "N_hs", "Y_hs"))),
    (JAS + "0203", "会德丰·贵都楼宇群网格", "Wheelock Square - Equatorial building group",
     ring(("延安西路", "Y_wlm", "Y_hs"), ("华山路", "Y_hs", "N_hs"), ("南京西路", "N_hs", "N_wlm"), ("乌鲁木齐北路", "N_wlm", "Y_wlm"))),
]

# ---------------------------------------------------------------------------
# Buildings. pos = approximate real position (lon, lat) of the building's centre, placed
# from its street address relative to the junctions above; size = (along-street, depth) m.
# Workload: enterprises, employees, party members, gross floor area m2 (sample figures
# of realistic scale; the 13 buildings of the Jing'an Temple part add up to ~30,000 workers).
# fmt: (id, group, name, name_en, aliases, addresses, pos, size, ent, emp, pm, floor_area)
BUILDINGS = [
    # --- 31010601201 north of 南京西路, 石门一路 - 陕西北路
    ("B001", NJXL + "0101", "美琪大戏院", "Majestic Theatre", ["美琪", "Majestic Theatre Shanghai"],
     ["江宁路66号"], (121.4589, 31.2327), (50, 40), 1, 90, 8, 7000),
    ("B002", NJXL + "0101", "湟普汇", "Huangpu Hui", ["吴江路湟普汇", "Huangpuhui Mall"],
     ["吴江路269号"], (121.4607, 31.2334), (70, 45), 35, 700, 20, 18000),
    ("B003", NJXL + "0102", "梅龙镇广场", "Westgate Mall", ["梅龙镇", "Westgate", "Westgate Tower", "梅龙镇伊势丹"],
     ["南京西路1038号"], (121.4570, 31.2318), (110, 60), 160, 5400, 360, 130000),
    ("B004", NJXL + "0102", "中信泰富广场", "CITIC Square", ["中信泰富", "CITIC Square Shanghai"],
     ["南京西路1168号"], (121.4544, 31.2313), (110, 70), 190, 6800, 450, 128000),
    # --- 31010601202 south of 南京西路, 青海路 - 陕西北路
    ("B005", NJXL + "0201", "兴业太古汇", "HKRI Taikoo Hui", ["太古汇", "HKRI Taikoo Hui", "Taikoo Hui", "大中里"],
     ["石门一路288号", "南京西路789号"], (121.4651, 31.2318), (200, 90), 210, 9800, 640, 322000),
    ("B006", NJXL + "0201", "上海四季酒店", "Four Seasons Hotel Shanghai", ["四季酒店", "Four Seasons"],
     ["威海路500号"], (121.4638, 31.2310), (45, 35), 6, 650, 38, 50000),
    ("B007", NJXL + "0202", "张园", "Zhangyuan", ["张园石库门", "Zhang Garden", "Zhangyuan Shikumen"],
     ["威海路590弄"], (121.4600, 31.2307), (170, 100), 95, 1600, 70, 62000),
    ("B008", NJXL + "0202", "王家沙点心店", "Wang Jia Sha", ["王家沙", "Wangjiasha"],
     ["南京西路805号"], (121.4623, 31.2315), (30, 25), 2, 140, 6, 3200),
    ("B009", NJXL + "0203", "静安别墅", "Jing'an Villa", ["静安别墅弄堂", "Jingan Villa", "Jing'an Bieshu"],
     ["南京西路1025弄", "南京西路1025弄1号"], (121.4567, 31.2301), (100, 80), 140, 1200, 45, 29000),
    ("B010", NJXL + "0203", "金鹰国际购物中心", "Golden Eagle Shopping Centre", ["金鹰", "金鹰国际", "Golden Eagle"],
     ["陕西北路278号"], (121.4538, 31.2296), (70, 60), 85, 2600, 120, 110000),
    ("B011", NJXL + "0203", "荣宅", "Rong Zhai", ["荣宗敬故居", "Prada Rong Zhai", "Rong Residence"],
     ["陕西北路186号"], (121.4537, 31.2288), (30, 25), 1, 40, 2, 2600),
    ("B012", NJXL + "0204", "文新报业大厦", "Wenxin Press Building", ["文新大厦", "Wenhui-Xinmin Press Tower"],
     ["威海路755号"], (121.4555, 31.2280), (60, 50), 40, 3200, 820, 115000),
    ("B013", NJXL + "0204", "毛泽东旧居", "Former Residence of Mao Zedong", ["甲秀里", "毛泽东旧居陈列馆"],
     ["茂名北路120弄7号", "茂名北路120弄"], (121.4591, 31.2285), (40, 30), 0, 12, 6, 800),
    # --- 31010601203 陕西北路 - 铜仁路, both sides of 南京西路
    ("B014", NJXL + "0301", "恒隆广场", "Plaza 66", ["Plaza 66", "恒隆", "Hang Lung Plaza", "恒隆广场一座", "恒隆广场二座"],
     ["南京西路1266号", "南京西路1366号"], (121.4508, 31.2302), (190, 100), 300, 11500, 780, 213000),
    ("B015", NJXL + "0301", "宋家老宅", "Song Family Residence", ["宋氏老宅", "Song Residence"],
     ["陕西北路369号"], (121.4514, 31.2322), (30, 25), 1, 25, 1, 1400),
    ("B016", NJXL + "0302", "上海商城", "Shanghai Centre", ["Shanghai Centre", "波特曼", "Portman Ritz-Carlton", "上海波特曼丽思卡尔顿酒店"],
     ["南京西路1376号"], (121.4475, 31.2291), (170, 110), 150, 4800, 310, 185000),
    # Calibration: OSM footprint centre 121.4480, 31.2269.
    ("B017", NJXL + "0303", "上海展览中心", "Shanghai Exhibition Centre", ["展览中心", "Shanghai Exhibition Center", "中苏友好大厦"],
     ["延安中路1000号", "南京西路1333号"], (121.4480, 31.2269), (200, 160), 12, 900, 140, 93000),
    ("B018", NJXL + "0303", "锦沧文华广场", "Jin Cang Mandarin Plaza", ["锦沧文华", "锦沧文华大酒店", "Jinjiang Mandarin"],
     ["南京西路1225号"], (121.4514, 31.2289), (60, 50), 70, 1900, 95, 80000),
    # --- 31010601301 north of 南京西路, 铜仁路 - 乌鲁木齐北路
    ("B019", JAS + "0101", "久光百货", "Jiuguang Department Store", ["久光", "Jiuguang", "Sogo Jiuguang", "静安久光"],
     ["南京西路1618号"], (121.4435, 31.2268), (90, 60), 45, 1700, 60, 68000),
    ("B020", JAS + "0101", "常德公寓", "Changde Apartment", ["爱林登公寓", "Eddington House"],
     ["常德路195号"], (121.4423, 31.2282), (30, 25), 3, 30, 2, 3000),
    ("B021", JAS + "0101", "吴同文住宅", "Wu Tongwen Residence", ["绿房子", "Green House"],
     ["铜仁路333号"], (121.4440, 31.2297), (30, 25), 1, 20, 1, 1800),
    # Calibration: OSM footprint centre 121.4406, 31.2255.
    ("B022", JAS + "0102", "静安寺", "Jing'an Temple", ["静安古寺", "Jing'an Temple", "Jingan Temple"],
     ["南京西路1686号"], (121.4406, 31.2255), (80, 70), 0, 150, 3, 22000),
    ("B023", JAS + "0102", "晶品购物中心", "Crystal Galleria", ["晶品", "Crystal Galleria"],
     ["愚园路68号"], (121.4405, 31.2280), (70, 55), 60, 1800, 55, 110000),
    ("B024", JAS + "0102", "环球世界大厦", "Universal Mansion", ["环球世界", "Universal Mansion Shanghai"],
     ["愚园路172号"], (121.4388, 31.2266), (40, 30), 110, 1500, 60, 32000),
    ("B025", JAS + "0103", "百乐门", "Paramount Ballroom", ["百乐门舞厅", "Paramount", "Paramount Ballroom"],
     ["愚园路218号"], (121.4370, 31.2263), (45, 35), 2, 120, 4, 5000),
    ("B026", JAS + "0103", "1788国际中心", "1788 Square", ["1788广场", "1788", "1788 International Center"],
     ["南京西路1788号"], (121.4375, 31.2246), (90, 55), 130, 4200, 260, 100000),
    # --- 31010601302 south of 南京西路, 铜仁路 - 乌鲁木齐北路
    ("B027", JAS + "0201", "静安嘉里中心", "Jing An Kerry Centre", ["嘉里中心", "JAKC", "Kerry Centre", "Jing'an Kerry Centre"],
     ["南京西路1515号"], (121.4438, 31.2253), (140, 80), 260, 9000, 600, 330000),
    ("B028", JAS + "0201", "静安香格里拉大酒店", "Jing An Shangri-La", ["静安香格里拉", "Shangri-La Jing An"],
     ["延安中路1218号"], (121.4449, 31.2248), (50, 35), 4, 900, 50, 80000),
    ("B029", JAS + "0202", "越洋广场", "Park Place", ["芮欧百货", "Réel", "Reel Mall", "越洋国际广场"],
     ["南京西路1601号"], (121.4413, 31.2247), (80, 55), 140, 4600, 290, 105000),
    ("B030", JAS + "0203", "会德丰国际广场", "Wheelock Square", ["会德丰", "Wheelock Square", "会德丰广场"],
     ["南京西路1717号"], (121.4378, 31.2229), (55, 55), 170, 5200, 340, 110000),
    ("B031", JAS + "0203", "上海国际贵都大饭店", "Hotel Equatorial Shanghai", ["贵都", "贵都大饭店", "Equatorial"],
     ["延安西路65号"], (121.4371, 31.2215), (60, 30), 8, 600, 35, 60000),
]

# Building-grid names come from the building; building-grid codes are allocated in order.
ROAD_SETBACK_M = 8.0     # parcel edge kept this far from the road centreline
PARCEL_PAD_M = 18.0      # parcel extends this far around the footprint (before clipping)
FOOTPRINT_MARGIN_M = 4.0  # footprint kept this far inside its parcel


def njw_bearing_at(pt_m) -> float:
    """Angle (radians, from east) of the 南京西路 segment nearest to a metric point."""
    nodes = [to_m(*NODES[n]) for n in ROADS["南京西路"][1]]
    best = None
    for (x1, y1), (x2, y2) in zip(nodes, nodes[1:]):
        d = LineString([(x1, y1), (x2, y2)]).distance(Point(pt_m))
        if best is None or d < best[0]:
            best = (d, math.atan2(y2 - y1, x2 - x1))
    return best[1]


def rect(center, w, d, angle):
    cx, cy = center
    r = Polygon([(-w / 2, -d / 2), (w / 2, -d / 2), (w / 2, d / 2), (-w / 2, d / 2)])
    r = affinity.rotate(r, angle, origin=(0, 0), use_radians=True)
    return affinity.translate(r, cx, cy)


def round_geom(g):
    """GeoJSON geometry dict, CCW exterior / CW holes, 7 decimals, no repeated points."""
    def rr(ring_coords):
        out = []
        for x, y in ring_coords:
            p = [round(x, 7), round(y, 7)]
            if not out or out[-1] != p:
                out.append(p)
        if out[0] != out[-1]:
            out.append(out[0])
        return out

    def poly(p):
        p = orient(p, 1.0)
        return [rr(p.exterior.coords)] + [rr(i.coords) for i in p.interiors]

    if g.geom_type == "Polygon":
        return {"type": "Polygon", "coordinates": poly(g)}
    if g.geom_type == "MultiPolygon":
        return {"type": "MultiPolygon", "coordinates": [poly(p) for p in g.geoms]}
    raise ValueError(g.geom_type)


def build_geometry():
    groups = {code: (name, name_en, poly) for code, name, name_en, poly in GROUPS}
    hoods = {}
    for code, name, name_en in NEIGHBORHOODS:
        parts = [poly for gcode, (_, _, poly) in groups.items() if gcode.startswith(code)]
        u = unary_union(parts)
        assert u.geom_type == "Polygon" and not u.interiors, (code, u.geom_type)
        hoods[code] = (name, name_en, orient(u, 1.0))

    parcels, footprints, bgrid = {}, {}, {}
    counters: dict[str, int] = {}
    for b in BUILDINGS:
        bid, gcode = b[0], b[1]
        counters[gcode] = counters.get(gcode, 0) + 1
        bgrid[bid] = f"{gcode}{counters[gcode]:03d}"

    for gcode, (_, _, gpoly) in groups.items():
        members = [b for b in BUILDINGS if b[1] == gcode]
        gm = geom_to_m(gpoly)
        inset = gm.buffer(-ROAD_SETBACK_M, join_style="mitre")
        pts = [Point(to_m(*b[6])) for b in members]
        for p, b in zip(pts, members):
            assert inset.contains(p), f"{b[0]} {b[2]} position not inside its group {gcode}"
        if len(pts) > 1:
            cells = list(voronoi_polygons(MultiPoint(pts), extend_to=gm).geoms)
        else:
            cells = [gm]
        for p, b in zip(pts, members):
            cell = next(c for c in cells if c.contains(p))
            w, d = b[7]
            ang = njw_bearing_at((p.x, p.y))
            box = rect((p.x, p.y), w + 2 * PARCEL_PAD_M, d + 2 * PARCEL_PAD_M, ang)
            parcel = cell.intersection(inset).intersection(box)
            if parcel.geom_type != "Polygon":
                parcel = max(parcel.geoms, key=lambda g: g.area)
            fp = rect((p.x, p.y), w, d, ang).intersection(parcel.buffer(-FOOTPRINT_MARGIN_M, join_style="mitre"))
            if fp.geom_type != "Polygon":
                fp = max(fp.geoms, key=lambda g: g.area)
            assert fp.area >= 0.6 * w * d, f"{b[0]} {b[2]}: footprint clipped to {fp.area / (w * d):.0%}"
            assert fp.centroid.distance(p) <= 25, f"{b[0]} {b[2]}: footprint centre moved {fp.centroid.distance(p):.0f} m"
            parcels[b[0]] = geom_to_deg(parcel)
            footprints[b[0]] = geom_to_deg(fp)
    return hoods, groups, parcels, footprints, bgrid


# ---------------------------------------------------------------------------
# People (fictitious) and roles.
SURNAMES = "张李王赵陈刘杨黄周吴徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹"
GIVEN = ["示例", "样本", "演示", "范例", "模拟", "虚构"]


def fictitious_names():
    for g in GIVEN:
        for s in SURNAMES:
            yield s + g


NAMES = fictitious_names()


def new_person(people, tag):
    pid = f"P{len(people) + 1:03d}"
    people.append({"id": pid, "name": next(NAMES),
                   "phone": f"021-5555-01{len(people):02d}" if len(people) < 100 else f"021-5555-04{len(people) - 100:02d}",
                   "email": f"{pid.lower()}.{tag}@example.org"})
    return pid


# Vacant roles on purpose (territorial fallback 属地兜底 to the parent grid must show):
GROUP_NO_PARTY_WORKER = {NJXL + "0204"}                   # 威海路南: party worker post vacant
GROUP_NO_CONVENER = {JAS + "0103"}                        # 百乐门·愚园路: no group-level BAC
BUILDING_NO_CONVENER = {"B011", "B021", "B022"}           # single-tenant house, historic house, temple: no BAC
BUILDING_NO_LEADERS = {"B008", "B013", "B015", "B020", "B024", "B025"}  # no leaders at all
# Big towers have their own full-time Party-masses worker; elsewhere the group's worker
# also serves each building of the group.
BUILDING_OWN_PARTY_WORKER = {"B003", "B004", "B005", "B014", "B016", "B026", "B027", "B029", "B030"}


def build_people_and_leaders(bgrid):
    people, leaders = [], []
    for code, _, _ in NEIGHBORHOODS:
        leaders.append((code, "bac_convener", new_person(people, "convener")))
        leaders.append((code, "party_worker", new_person(people, "party")))
    group_pw = {}
    for code, *_ in GROUPS:
        if code not in GROUP_NO_CONVENER:
            leaders.append((code, "bac_convener", new_person(people, "convener")))
        if code not in GROUP_NO_PARTY_WORKER:
            group_pw[code] = new_person(people, "party")
            leaders.append((code, "party_worker", group_pw[code]))
    for b in BUILDINGS:
        bid, gcode = b[0], b[1]
        code = bgrid[bid]
        if bid in BUILDING_NO_LEADERS:
            continue
        if bid not in BUILDING_NO_CONVENER:
            leaders.append((code, "bac_convener", new_person(people, "convener")))
        if bid in BUILDING_OWN_PARTY_WORKER or gcode not in group_pw:
            leaders.append((code, "party_worker", new_person(people, "party")))
        else:
            leaders.append((code, "party_worker", group_pw[gcode]))
    return people, leaders


SPECIALTY = {
    "区商务委": "industrial support",
    "区投资促进办公室": "industrial support",
    "区行政服务中心": "administrative approval",
    "区税务局": "taxes and finance",
    "区财政局": "taxes and finance",
    "区人社局": "talent services",
    "区司法局": "legal services",
    "区市场监管局": "market supervision",
}
TEAMS = [
    # id, name, grid codes, departments of its members
    ("T01", "南京西路街道首席服务团队（第一组）", [NJXL + "01"],
     ["区商务委", "区行政服务中心", "区税务局", "区人社局", "区市场监管局"]),
    ("T02", "南京西路街道首席服务团队（第二组）", [NJXL + "02"],
     ["区投资促进办公室", "区行政服务中心", "区财政局", "区司法局", "区市场监管局"]),
    ("T03", "南京西路街道首席服务团队（第三组）", [NJXL + "03"],
     ["区商务委", "区行政服务中心", "区税务局", "区人社局"]),
    ("T04", "静安寺街道首席服务团队（第一组）", [JAS + "01"],
     ["区商务委", "区行政服务中心", "区税务局", "区司法局", "区市场监管局"]),
    ("T05", "静安寺街道首席服务团队（第二组）", [JAS + "02"],
     ["区投资促进办公室", "区行政服务中心", "区税务局", "区人社局", "区司法局"]),
    ("T06", "梅泰恒楼宇首席服务专班", [NJXL + "0102", NJXL + "0301"],
     ["区商务委", "区税务局", "区人社局", "区司法局"]),
    ("T07", "静安嘉里中心楼宇首席服务专班", [JAS + "0201"],
     ["区投资促进办公室", "区行政服务中心", "区财政局"]),
]


def build_teams():
    teams, n = [], 0
    for tid, name, codes, depts in TEAMS:
        members = []
        for dep in depts:
            members.append({"name": next(NAMES), "department": dep, "specialty": SPECIALTY[dep],
                            "phone": f"021-5555-02{n:02d}" if n < 100 else f"021-5555-03{n - 100:02d}"})
            n += 1
        teams.append({"id": tid, "name": name, "grid_codes": codes, "members": members})
    return teams


# ---------------------------------------------------------------------------
def geodesic_area(g) -> float:
    return abs(GEOD.geometry_area_perimeter(g)[0])


def write_fc(path: Path, features):
    with path.open("w", encoding="utf-8") as f:
        f.write('{"type": "FeatureCollection", "features": [\n')
        f.write(",\n".join(json.dumps(ft, ensure_ascii=False) for ft in features))
        f.write("\n]}\n")


def main():
    OUT.mkdir(exist_ok=True)
    hoods, groups, parcels, footprints, bgrid = build_geometry()

    grid_features = []
    for code, (name, name_en, poly) in hoods.items():
        grid_features.append({"type": "Feature", "geometry": round_geom(poly), "properties": {
            "code": code, "name": name, "name_en": name_en, "level": "neighborhood",
            "parent_code": None, "valid_from": VALID_FROM}})
    for code, (name, name_en, poly) in groups.items():
        grid_features.append({"type": "Feature", "geometry": round_geom(poly), "properties": {
            "code": code, "name": name, "name_en": name_en, "level": "building_group",
            "parent_code": code[:11], "valid_from": VALID_FROM}})
    for b in BUILDINGS:
        code = bgrid[b[0]]
        grid_features.append({"type": "Feature", "geometry": round_geom(parcels[b[0]]), "properties": {
            "code": code, "name": f"{b[2]}楼宇网格", "name_en": f"{b[3]} building grid",
            "level": "building", "parent_code": b[1], "valid_from": VALID_FROM}})
    write_fc(OUT / "grids.geojson", grid_features)

    bfeatures = []
    for (bid, gcode, name, name_en, aliases, addrs, pos, size, ent, emp, pm, area) in BUILDINGS:
        bfeatures.append({"type": "Feature", "geometry": round_geom(footprints[bid]), "properties": {
            "id": bid, "name": name, "name_en": name_en, "aliases": aliases, "addresses": addrs,
            "grid_code": bgrid[bid], "enterprises": ent, "employees": emp, "party_members": pm,
            "floor_area_m2": float(area)}})
    write_fc(OUT / "buildings.geojson", bfeatures)

    people, leaders = build_people_and_leaders(bgrid)
    with (OUT / "people.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "name", "phone", "email"])
        for p in people:
            w.writerow([p["id"], p["name"], p["phone"], p["email"]])
    with (OUT / "leaders.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["grid_code", "role", "person_id"])
        w.writerows(leaders)
    teams = build_teams()
    (OUT / "teams.json").write_text(json.dumps(teams, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    write_readme(hoods, groups, bgrid, people, leaders, teams)
    print(f"wrote {OUT}: {len(hoods)} neighborhoods, {len(groups)} building groups, "
          f"{len(BUILDINGS)} building grids, {len(BUILDINGS)} buildings, {len(people)} people, "
          f"{len(leaders)} leader assignments, {len(teams)} teams")


def write_readme(hoods, groups, bgrid, people, leaders, teams):
    total_area = geodesic_area(unary_union([p for _, _, p in hoods.values()]))
    name_of = {b[0]: b[2] for b in BUILDINGS}
    gname = {c: n for c, n, _, _ in GROUPS}

    def totals(prefix):
        bs = [b for b in BUILDINGS if bgrid[b[0]].startswith(prefix)]
        return (len(bs), sum(b[8] for b in bs), sum(b[9] for b in bs), sum(b[10] for b in bs), sum(b[11] for b in bs))

    rows = []
    for code, (name, _, poly) in hoods.items():
        n, e, w, p, a = totals(code)
        rows.append(f"| {code} | {name} | {geodesic_area(poly) / 1e6:.3f} | {n} | {e:,} | {w:,} | {p:,} | {a:,.0f} |")
    n, e, w, p, a = totals("3101060")
    rows.append(f"| **total** | | **{total_area / 1e6:.3f}** | **{n}** | **{e:,}** | **{w:,}** | **{p:,}** | **{a:,.0f}** |")
    grows = []
    for code, name, _, poly in GROUPS:
        n, e, w, p, a = totals(code)
        blist = "、".join(name_of[b[0]] for b in BUILDINGS if b[1] == code)
        grows.append(f"| {code} | {name} | {n} | {e:,} | {w:,} | {blist} |")

    hood_name = {c: n for c, n, _ in NEIGHBORHOODS}
    vac = []
    for c in sorted(GROUP_NO_PARTY_WORKER):
        vac.append(f"- Building group `{c}` {gname[c]}: **no party_worker** (falls back to "
                   f"`{c[:11]}` {hood_name[c[:11]]}).")
    for c in sorted(GROUP_NO_CONVENER):
        vac.append(f"- Building group `{c}` {gname[c]}: **no bac_convener** (falls back to "
                   f"`{c[:11]}` {hood_name[c[:11]]}).")
    vac.append("- Building grids with **no bac_convener** (no Building Affairs Committee: a single-tenant "
               "historic house, a historic villa, a temple; they do have a party worker), falling back to "
               "their group's convener: "
               + ", ".join(f"`{bgrid[b]}` {name_of[b]}" for b in sorted(BUILDING_NO_CONVENER)) + ".")
    vac.append("- Building grids with **no leaders at all** (both roles fall back to the building group): "
               + ", ".join(f"`{bgrid[b]}` {name_of[b]}" for b in sorted(BUILDING_NO_LEADERS)) + ".")
    two = []
    for b in sorted(BUILDING_NO_LEADERS):
        g = next(x[1] for x in BUILDINGS if x[0] == b)
        for role, vacant in (("party_worker", GROUP_NO_PARTY_WORKER), ("bac_convener", GROUP_NO_CONVENER)):
            if g in vacant:
                two.append(f"{name_of[b]} (`{bgrid[b]}`) → {role} from neighborhood `{g[:11]}`")
    vac.append("- Fallback over **two levels** (the group's role is vacant too): " + "; ".join(two) + ".")
    vac.append("- In group `3101060120204` (no group party worker) the building 文新报业大厦 has its own "
               "party worker. All other building grids have both roles.")
    team_rows = "\n".join(f"| {t['id']} | {t['name']} | {', '.join(t['grid_codes'])} | {len(t['members'])} |" for t in teams)

    text = README_TEMPLATE.format(
        area_km2=f"{total_area / 1e6:.3f}", hood_rows="\n".join(rows), group_rows="\n".join(grows),
        vacancies="\n".join(vac), team_rows=team_rows, n_people=len(people), n_leaders=len(leaders),
        n_hoods=len(hoods), n_groups=len(groups), n_buildings=len(BUILDINGS), n_teams=len(teams))
    (OUT / "README.md").write_text(text, encoding="utf-8")


README_TEMPLATE = """# geodata/ — sample: West Nanjing Road business district, Jing'an, Shanghai

Generated by `scripts/sample/build_sample.py`; checked by `scripts/sample/check_sample.py`
(every rule below prints PASS/FAIL). Do not edit the files by hand: change the script and rerun

```
pip install shapely pyproj
python3 scripts/sample/build_sample.py && python3 scripts/sample/check_sample.py
```

Contents: {n_hoods} neighborhood grids, {n_groups} building-group grids, {n_buildings} building grids,
{n_buildings} buildings, {n_people} people, {n_leaders} leader assignments, {n_teams} service teams.
The neighborhoods tile **{area_km2} km²** (geodesic, WGS84 ellipsoid) from 青海路/石门一路 in the
east to 乌鲁木齐北路 west of Jing'an Temple, between 北京西路/愚园路 and 延安中路/延安西路.

## Files

All coordinates are WGS84 lon/lat (EPSG:4326), RFC 7946: exterior rings counter-clockwise, holes
clockwise, rings closed, coordinates rounded to 7 decimals.

| file | what |
|---|---|
| `grids.geojson` | FeatureCollection, one Polygon Feature per grid. properties: `code` (string), `name` (Chinese), `name_en`, `level` (`neighborhood` \\| `building_group` \\| `building`), `parent_code` (null for neighborhoods), `valid_from` (RFC 3339) |
| `buildings.geojson` | FeatureCollection, one Polygon footprint per building. properties: `id` (`B001`…), `name`, `name_en`, `aliases` (other names, Chinese and English), `addresses` (door-plate forms, main first; lane addresses like `南京西路1025弄` and `南京西路1025弄1号`, `茂名北路120弄7号`; a second road where the building has an entrance there), `grid_code` (its building grid), `enterprises`, `employees`, `party_members` (integers), `floor_area_m2` |
| `people.csv` | `id,name,phone,email` — **fictitious** people (names built from 示例/样本/演示/范例/模拟/虚构), phones `021-5555-01xx`, emails at `example.org` |
| `leaders.csv` | `grid_code,role,person_id`; role `bac_convener` (楼委会召集人) or `party_worker` (专职党群工作者). A grid with no row for a role has that role vacant |
| `teams.json` | array of `{{id, name, grid_codes, members: [{{name, department, specialty, phone}}]}}`; specialty ∈ industrial support, administrative approval, taxes and finance, talent services, legal services, market supervision; departments are real kinds of Jing'an district departments, members are fictitious (phones `021-5555-02xx`) |

## Code scheme

Built on the official division codes in `shared/reference/` (GB/T 2260 county 310106 静安区;
9-digit sub-district codes from the NBS 2023 list):

| level | code | example |
|---|---|---|
| neighborhood (街区网格) | 9-digit sub-district code + 2 digits | `31010601201` 南京西路街道 第1街区网格 |
| building group (楼宇群网格) | neighborhood code + 2 digits | `3101060120301` 恒隆广场楼宇群网格 |
| building (楼宇网格) | building-group code + 3 digits | `3101060120301001` 恒隆广场楼宇网格 |

`310106012` 南京西路街道 covers the east part (to 铜仁路), `310106013` 静安寺街道 the west part
(铜仁路 westward, around Jing'an Temple). The real sub-district boundary runs roughly along
常德路/铜仁路; here it is taken as 铜仁路.

## Geography: where the coordinates come from

- Roads are named polylines through junction nodes (see `NODES`/`ROADS` in the script): 南京西路,
  延安中路/延安西路, 威海路, 北京西路, 愚园路 and the cross streets 青海路, 石门一路, 江宁路/茂名北路,
  陕西北路, 西康路, 铜仁路, 常德路, 万航渡路/华山路, 乌鲁木齐北路. Positions are from general
  knowledge of the real street network, calibrated on two OpenStreetMap footprint centres:
  Jing'an Temple (南京西路1686号) 121.4406, 31.2255 and the Shanghai Exhibition Centre
  (延安中路1000号) 121.4480, 31.2269. Expect errors of tens of metres; no survey data was used.
- Building groups are the road-bounded blocks (road centrelines); neighborhoods are unions of
  blocks, so neighbours share borders exactly and groups tile their neighborhood.
- Building grids are parcels: the building's Voronoi cell within its group, set back 8 m from
  the road centreline and limited to ~18 m around the footprint (they do not tile the group; the
  rest of a block — streets, lanes, Jing'an Park — belongs to the group only).
- Footprints are rectangles of roughly the real size, aligned with 南京西路, kept ≥ 4 m inside the
  parcel. They are schematic, not traced outlines.
- House numbers on 南京西路: odd numbers on the **south** side (静安嘉里中心 1515 reaches 延安中路,
  静安公园 1649 lies between the road and 延安中路, 上海展览中心's north gate is 1333), even numbers on the **north** side
  (上海商城 1376 faces the Exhibition Centre; 静安寺 1686, 恒隆广场 1266). The checker verifies
  this parity against the 南京西路 polyline.
- The area reaches east of 石门一路 to 青海路 so that 兴业太古汇 (the 大中里 block between
  南京西路, 石门一路, 威海路 and 青海路) is inside.
- Less certain (from memory, to be verified before any real use): 湟普汇 吴江路269号,
  the house numbers inside lanes (南京西路1025弄1号; 茂名北路120弄7号, the memorial being 5–9号),
  环球世界大厦 愚园路172号, the exact side of 江宁路 for 梅龙镇广场, the exact course of 愚园路/
  万航渡路/乌鲁木齐北路 west of the temple. Buildings are a sample: several real buildings of the
  district (e.g. 中欣大厦, 南证大厦, 静安中华大厦) are not included.

## Neighborhoods and workload totals

Workload figures (enterprises, employees, party members, floor area) are sample values of
realistic scale, not official statistics; the 静安寺街道 part (13 buildings) totals about 30,000
employees, in line with the Jing'an Temple business district's ~30,000 white-collar workers.

| code | neighborhood | area km² | buildings | enterprises | employees | party members | floor area m² |
|---|---|---|---|---|---|---|---|
{hood_rows}

| group code | building group | buildings | enterprises | employees | buildings in it |
|---|---|---|---|---|---|
{group_rows}

## Leaders: roles left vacant on purpose

Every neighborhood grid has both roles. Vacancies below exist so that territorial fallback
(属地兜底: a vacant role is answered by the enclosing grid) is visible:

{vacancies}

Full-time Party-masses workers serve several grids (a group's worker is also the worker of its
smaller buildings; big towers have their own), so one person may appear on several rows.

## Service teams

| id | name | grids | members |
|---|---|---|---|
{team_rows}

Teams are assigned at neighborhood level (T01–T05 cover all five) and, for T06/T07, at
building-group level. No building grid has a team of its own: every building resolves its team by
fallback (building → group → neighborhood); the groups of T06/T07 get the group team first.
"""

if __name__ == "__main__":
    main()
