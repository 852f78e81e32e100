include "common";
def tw_status: (. // "") as $k | {
  "unpaid": "pending_payment", "pending": "awaiting_shipment", "ready_to_ship": "awaiting_shipment",
  "packed": "awaiting_shipment", "shipped": "shipped", "delivered": "delivered",
  "completed": "completed", "canceled": "cancelled", "returned": "refunded", "failed": "cancelled"
}[$k] // "unknown";
.result.model_list[]
| {
    platform: "taobao-tw", shop: "local",
    order_id: .trade_order_id, source_order_id: null,
    status: (.status | tw_status), platform_status: .status,
    created_at: (.creation_time | epoch_ms_cst), updated_at: (.modification_time | epoch_ms_cst),
    paid_at: null, currency: .actual_fee_currency_code,
    total: (.actual_fee | money), shipping_fee: (.actual_shipping_fee | money), discount: null,
    buyer: {id: .buyer_id, name: (.buyer_full_name | nonempty | if . then gsub("^\\s+|\\s+$"; "") else . end)},
    seller: {id: .seller_id, name: .seller_full_name},
    receiver: (.delivery_info // {} | {
      name: .receiver_name, phone: .receiver_phone, country: .country_code, state: .state,
      city: .city, district: .area, town: null, address: .detail_address, zip: null
    }),
    buyer_message: null, seller_memo: null,
    lines: [ (.trade_order_line_id_list // [])[] | {
      line_id: (ltrimstr("\"") | rtrimstr("\"")), product_id: null, sku_id: null, title: "",
      sku_properties: [], quantity: 0, unit_price: null, total: null, status: null,
      platform_status: null, refund_status: null, carrier: null, tracking_number: null,
      image_url: null
    } ]
  }
