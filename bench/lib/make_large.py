#!/usr/bin/env python3
"""Build one large list response for a platform from its seed fixture.

    make_large.py PLATFORM N FIXTURES_DIR OUT_FILE

Takes the orders of the platform's list example in fixtures/<platform>/ and repeats them,
round robin, to N orders with distinct order, line and sub-order ids, in the same wire
format (one page holding all N orders). Prints the file size in bytes.
"""
import copy
import json
import sys

# The list-response fixture of each platform.
SEED = {
    "taobao-tw": "orders_get.json",
    "taobao-enhanced": "list.json",
    "vvtool": "sold.json",
    "pandapon-taobao": "page.json",
    "pandapon-1688": "page.json",
}


def rid(orig, n, width=9):
    """orig with its last `width` digits replaced by n: same length, distinct per n."""
    s = str(orig)
    if len(s) <= width:
        return str(n)
    return s[:-width] + str(n).zfill(width)


def tw(doc, n):
    tpl = doc["result"]["model_list"]
    out = []
    for i in range(n):
        o = copy.deepcopy(tpl[i % len(tpl)])
        o["trade_order_id"] = rid(o["trade_order_id"], i)
        # Line ids come as JSON strings inside strings ("\"558757467941\""), as the API sends.
        o["trade_order_line_id_list"] = [
            '"%s"' % rid(l.strip('"'), i * 10 + j)
            for j, l in enumerate(o.get("trade_order_line_id_list") or [])
        ]
        out.append(o)
    doc["result"]["model_list"] = out
    doc["result"]["total_count"] = n
    doc["result"]["page_size"] = n
    return doc


def trade_lines(o, i):
    lines = (o.get("orders") or {}).get("order") or []
    for j, l in enumerate(lines):
        oid = rid(l["oid"], i * 10 + j)
        l["oid"] = oid
        if "oid_str" in l:
            l["oid_str"] = oid


def enhanced(doc, n):
    tpl = doc["data"]["items"]
    out = []
    for i in range(n):
        o = copy.deepcopy(tpl[i % len(tpl)])
        tid = rid(o["tid"], i)
        o["tid"] = tid
        o["tid_str"] = tid
        trade_lines(o, i)
        out.append(o)
    doc["data"]["items"] = out
    doc["data"]["total"] = n
    return doc


# The vv-tool example trade carries only buyer_nick and orders; complete it with the fields a
# full `fields` list returns (the sandbox does the same for its seed trade).
VV_EXTRA = {
    "tid": 4200000000000000000, "status": "WAIT_BUYER_CONFIRM_GOODS", "type": "fixed",
    "payment": "110.48", "post_fee": "0.00", "discount_fee": "628.52", "total_fee": "739.00",
    "created": "2021-06-16 09:30:00", "pay_time": "2021-06-16 09:30:42",
    "modified": "2021-06-16 13:30:00", "consign_time": "2021-06-16 10:30:00",
    "seller_nick": "sandbox_seller", "buyer_message": "", "seller_memo": "",
    "receiver_name": "张**", "receiver_mobile": "*******1234", "receiver_phone": "",
    "receiver_state": "浙江省", "receiver_city": "杭州市", "receiver_district": "西湖区",
    "receiver_town": "转塘街道", "receiver_address": "转*街道**路***号", "receiver_zip": "310024",
    "receiver_country": "中国",
}


def vvtool(doc, n):
    data = doc["data"]
    tpl = [v for k, v in data.items() if k.isdigit()]
    rest = {k: v for k, v in data.items() if not k.isdigit()}
    new = {}
    for i in range(n):
        o = copy.deepcopy(tpl[i % len(tpl)])
        for k, v in VV_EXTRA.items():
            o.setdefault(k, v)
        o["tid"] = int(VV_EXTRA["tid"]) + i  # a JSON number, as vv-tool documents it
        trade_lines(o, i)
        new[str(i)] = o
    new.update(rest)
    new["has_next"] = False
    doc["data"] = new
    return doc


def pandapon_taobao(doc, n):
    tpl = doc["data"]["data"]
    out = []
    for i in range(n):
        o = copy.deepcopy(tpl[i % len(tpl)])
        o["id"] = rid(o["id"], i)
        o["orderNo"] = rid(o["orderNo"], i)
        for j, s in enumerate(o.get("subOrderVOS") or []):
            s["subOrderId"] = rid(s["subOrderId"], i * 10 + j)
            s["orderNo"] = o["orderNo"]
            if s.get("taobaoPurchaseId"):
                s["taobaoPurchaseId"] = rid(s["taobaoPurchaseId"], i, 7)
        out.append(o)
    doc["data"]["data"] = out
    doc["data"]["total"] = n
    return doc


def pandapon_1688(doc, n):
    tpl = doc["data"]["data"]
    out = []
    for i in range(n):
        o = copy.deepcopy(tpl[i % len(tpl)])
        o["id"] = rid(o["id"], i)
        o["orderNo"] = rid(o["orderNo"], i)
        if o.get("tbOrderId"):
            o["tbOrderId"] = rid(o["tbOrderId"], i)
        for j, d in enumerate(o.get("orderDetailInfoVOS") or []):
            d["id"] = rid(d["id"], i * 10 + j)
            d["orderId"] = o["id"]
            if d.get("subTbOrderId"):
                d["subTbOrderId"] = rid(d["subTbOrderId"], i * 10 + j)
        out.append(o)
    doc["data"]["data"] = out
    doc["data"]["total"] = n
    return doc


BUILD = {
    "taobao-tw": tw,
    "taobao-enhanced": enhanced,
    "vvtool": vvtool,
    "pandapon-taobao": pandapon_taobao,
    "pandapon-1688": pandapon_1688,
}


def main():
    platform, n, fixtures, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    with open(f"{fixtures}/{platform}/{SEED[platform]}", encoding="utf-8") as f:
        doc = json.load(f)
    doc = BUILD[platform](doc, n)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
    with open(out, "rb") as f:
        f.seek(0, 2)
        print(f.tell())


if __name__ == "__main__":
    main()
