//! Turning the mirror's stored documents back into output: NDJSON and JSON copy the stored
//! text (it is exactly what `pull` printed), CSV reads each document back into an
//! [`Order`](crate::model::Order) for the CSV sink's fixed columns.
