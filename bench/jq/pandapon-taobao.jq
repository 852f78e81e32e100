include "common";
def status: {"0": "pending_payment", "1": "paid", "2": "awaiting_shipment", "3": "shipped",
  "4": "completed", "5": "cancelled", "6": "refunded"}[tostring] // "unknown";
.data.data[]
| (.warehouseAddressInfoVO // {}) as $w
| {
    platform: "pandapon-taobao", shop: "local",
    order_id: .orderNo, source_order_id: (.subOrderVOS[0].taobaoPurchaseId // null),
    status: (.status | status), platform_status: (.status | tostring),
    created_at: (.createTime | cst), updated_at: null, paid_at: (.payTime | cst),
    currency: "CNY", total: (.purchaseAmount | fen),
    shipping_fee: ([.subOrderVOS[]?.domesticPostFee // 0] | add // 0 | fen), discount: null,
    buyer: {id: .userId, name: .userName}, seller: {id: null, name: null},
    receiver: {name: $w.name, phone: ($w.mobilePhone // $w.phone), country: $w.country,
      state: $w.state, city: $w.city, district: $w.district, town: null,
      address: $w.address, zip: $w.zip},
    buyer_message: .remark, seller_memo: null,
    lines: [ (.subOrderVOS // [])[]
      | ((.subOrderResult // "{}") | fromjson) as $r
      | {
          line_id: .subOrderId, product_id: .itemMapId, sku_id: .skuId, title: .title,
          sku_properties: (($r.option_fields.zh // "{}") | fromjson | to_entries
                           | map({name: .key, value: .value})),
          quantity: .quantity, unit_price: (.purchaseAmount | fen), total: null, status: null,
          platform_status: .status, refund_status: (.refundType // 0 | tostring),
          carrier: null, tracking_number: null, image_url: $r.option_fields.SKU_IMG_URL
        } ]
  }
