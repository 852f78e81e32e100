include "common";
def status: {"0": "pending_payment", "1": "paid", "2": "awaiting_shipment", "3": "shipped",
  "4": "completed", "5": "cancelled", "6": "refunded"}[tostring] // "unknown";
.data.data[]
| ((.receiver // "{}") | fromjson) as $r
| (($r.toArea // "") | split(" ")) as $area
| {
    platform: "pandapon-1688", shop: "local",
    order_id: .orderNo, source_order_id: .tbOrderId,
    status: (.orderStatus | status), platform_status: (.orderStatus | tostring),
    created_at: .createTime, updated_at: null, paid_at: null, currency: "CNY",
    total: (.totalAmount | fen), shipping_fee: (.shippingFee | fen), discount: (.discount | fen),
    buyer: {id: .userId, name: .subBuyerLoginId}, seller: {id: null, name: .sellerLoginId},
    receiver: {name: $r.toFullName, phone: ($r.toMobile // $r.toPhone), country: null,
      state: $area[0], city: $area[1], district: $area[2], town: null,
      address: ($area[3:] | join(" ")), zip: $r.toPost},
    buyer_message: null, seller_memo: null,
    lines: [ (.orderDetailInfoVOS // [])[] | {
      line_id: .id, product_id: .productId, sku_id: .skuId, title: .name,
      sku_properties: ((.skuInfos // "[]") | fromjson | map({name, value})),
      quantity: .quantity, unit_price: (.price | fen), total: (.itemAmount | fen), status: null,
      platform_status: (.status | tostring), refund_status: null, carrier: null,
      tracking_number: null,
      image_url: ((.productImgUrl // "[]") | fromjson | last)
    } ]
  }
