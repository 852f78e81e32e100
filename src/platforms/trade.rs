//! The Taobao Trade normalizer shared by taobao-enhanced and vvtool. STUB: being implemented
//! (issue 3).
