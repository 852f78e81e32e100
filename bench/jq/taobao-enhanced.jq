include "common";
.data.items[] | taobao_trade("taobao-enhanced")
