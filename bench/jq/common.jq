# Helpers shared by the per-platform flattenings (included with `include "common";`).
def nonempty: if . == null or . == "" then null else . end;
# "62" / "105.58" -> "62.00" / "105.58"
def money: if . == null or . == "" then null
  else (tonumber * 100 | round) as $c
  | "\(($c / 100) | floor).\((($c % 100) + 100) | tostring | .[1:])" end;
# 23200 (fen) -> "232.00"
def fen: if . == null then null
  else "\((. / 100) | floor).\((((. % 100) + 100)) | tostring | .[1:])" end;
# "2021-10-02 16:13:56" (+08:00) -> "2021-10-02T16:13:56+08:00"
def cst: nonempty | if . == null then null else sub(" "; "T") + "+08:00" end;
# 1592988843859 (epoch ms) -> "2020-06-24T16:54:03.859+08:00"
def epoch_ms_cst: if . == null then null
  else ((. / 1000 | floor) + 28800 | todate | rtrimstr("Z"))
       + "." + (((. % 1000) + 1000) | tostring | .[1:]) + "+08:00" end;
# "颜色分类:豆沙色;尺码:L" -> [{name, value}]
def taobao_props: if . == null or . == "" then []
  else split(";") | map(select(. != "") | split(":") | {name: .[0], value: (.[1:] | join(":"))}) end;
def taobao_status: (. // "") as $k | {
  "WAIT_BUYER_PAY": "pending_payment", "TRADE_NO_CREATE_PAY": "pending_payment",
  "WAIT_SELLER_SEND_GOODS": "awaiting_shipment", "SELLER_CONSIGNED_PART": "partially_shipped",
  "WAIT_BUYER_CONFIRM_GOODS": "shipped", "TRADE_BUYER_SIGNED": "delivered",
  "TRADE_FINISHED": "completed", "TRADE_CLOSED": "refunded",
  "TRADE_CLOSED_BY_TAOBAO": "cancelled", "PAID_FORBID_CONSIGN": "paid"
}[$k] // "unknown";
# A Taobao-style trade (enhanced list, vv-tool) flattened like `ordersync normalize`.
def taobao_trade($platform):
  (.status) as $st
  | {
      platform: $platform, shop: "local",
      order_id: ((.tid_str | nonempty) // (.tid | tostring)),
      source_order_id: null,
      status: ($st | taobao_status), platform_status: $st,
      created_at: (.created | cst), updated_at: (.modified | cst), paid_at: (.pay_time | cst),
      currency: "CNY",
      total: (.payment | money), shipping_fee: (.post_fee | money),
      discount: (.discount_fee | money),
      buyer: {id: (.buyer_open_uid | nonempty), name: (.buyer_nick | nonempty)},
      seller: {id: null, name: (.seller_nick | nonempty)},
      receiver: {
        name: (.receiver_name | nonempty), phone: ((.receiver_mobile | nonempty) // (.receiver_phone | nonempty)),
        country: (.receiver_country | nonempty), state: (.receiver_state | nonempty),
        city: (.receiver_city | nonempty), district: (.receiver_district | nonempty),
        town: (.receiver_town | nonempty), address: (.receiver_address | nonempty),
        zip: (.receiver_zip | nonempty)
      },
      buyer_message: (.buyer_message | nonempty), seller_memo: (.seller_memo | nonempty),
      lines: [ (.orders.order // [])[] | {
        line_id: ((.oid_str | nonempty) // (.oid | tostring)),
        product_id: (.num_iid | tostring), sku_id: (.sku_id | nonempty),
        title: .title, sku_properties: (.sku_properties_name | taobao_props),
        quantity: .num, unit_price: (.price | money), total: (.divide_order_fee | money),
        status: (.status | taobao_status), platform_status: .status,
        refund_status: (.refund_status | nonempty),
        carrier: (.logistics_company | nonempty), tracking_number: (.invoice_no | nonempty),
        image_url: (.pic_path | nonempty)
      } ]
    };
