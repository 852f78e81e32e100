//! The mirror's schema, as SQL, and its versions. Documented for users in the README
//! ("The mirror"); this is the source of truth.
//!
//! Version 1 held orders, the change feed and the shops' marks; version 2 added
//! `order_lines` (one row per line, filled from the orders' documents) and an index for
//! status queries; version 3 added `window_ledger` (what each pulled window held, for
//! `ordersync verify`) and an index on modification times. A database is brought forward one step at a time, each step in its own
//! transaction with the `schema_version` row, so a run killed mid-migration leaves the
//! previous version whole. A database of a newer version than this ordersync knows is
//! refused rather than written to.
//!
//! Conventions shared by the backends: times are RFC 3339 text as ordersync prints them
//! (the platform's +08:00, so `substr(created_at, 1, 10)` is the local day) plus `*_us`
//! integer microseconds since the epoch for ranges; money is exact decimal text in SQLite
//! (it has no decimal type) and `NUMERIC` in PostgreSQL; `doc` is the whole order exactly as
//! `ordersync pull` prints it.

/// The version this ordersync writes.
pub const CURRENT: i64 = 3;

/// SQLite: the steps from an empty database, `(version reached, SQL)`.
pub const SQLITE_STEPS: &[(i64, &str)] = &[(1, SQLITE_V1), (2, SQLITE_V2), (3, SQLITE_V3)];

/// The first schema.
pub const SQLITE_V1: &str = r#"
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (1);

CREATE TABLE shops (
    shop        TEXT PRIMARY KEY,
    platform    TEXT NOT NULL,
    by_time     TEXT NOT NULL CHECK (by_time IN ('created', 'modified')),
    mark        TEXT,
    origin      TEXT,
    updated_at  TEXT NOT NULL
);

CREATE TABLE orders (
    shop            TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    platform        TEXT NOT NULL,
    status          TEXT NOT NULL,
    platform_status TEXT NOT NULL,
    created_at      TEXT,
    updated_at      TEXT,
    paid_at         TEXT,
    created_us      INTEGER,
    updated_us      INTEGER,
    currency        TEXT NOT NULL,
    total           TEXT,
    shipping_fee    TEXT,
    discount        TEXT,
    buyer_id        TEXT,
    buyer_name      TEXT,
    line_count      INTEGER NOT NULL,
    doc             TEXT NOT NULL,
    first_seen      TEXT NOT NULL,
    last_seq        INTEGER NOT NULL,
    PRIMARY KEY (shop, order_id)
);
CREATE INDEX orders_by_created ON orders (shop, created_us, order_id);

CREATE TABLE order_changes (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    shop      TEXT NOT NULL,
    order_id  TEXT NOT NULL,
    change    TEXT NOT NULL CHECK (change IN ('new', 'updated')),
    changed   TEXT,
    at        TEXT NOT NULL
);
CREATE INDEX order_changes_by_shop ON order_changes (shop, seq);
"#;

/// Lines as rows, filled from the documents already held.
pub const SQLITE_V2: &str = r#"
CREATE TABLE order_lines (
    shop            TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    line_no         INTEGER NOT NULL,
    line_id         TEXT NOT NULL,
    product_id      TEXT,
    sku_id          TEXT,
    title           TEXT NOT NULL,
    quantity        INTEGER NOT NULL,
    unit_price      TEXT,
    total           TEXT,
    status          TEXT,
    platform_status TEXT,
    refund_status   TEXT,
    carrier         TEXT,
    tracking_number TEXT,
    PRIMARY KEY (shop, order_id, line_no)
);
INSERT INTO order_lines
    SELECT o.shop, o.order_id, CAST(l.key AS INTEGER),
           json_extract(l.value, '$.line_id'), json_extract(l.value, '$.product_id'),
           json_extract(l.value, '$.sku_id'), json_extract(l.value, '$.title'),
           json_extract(l.value, '$.quantity'), json_extract(l.value, '$.unit_price'),
           json_extract(l.value, '$.total'), json_extract(l.value, '$.status'),
           json_extract(l.value, '$.platform_status'), json_extract(l.value, '$.refund_status'),
           json_extract(l.value, '$.carrier'), json_extract(l.value, '$.tracking_number')
    FROM orders o, json_each(o.doc, '$.lines') l;
CREATE INDEX orders_by_status ON orders (shop, status, created_us);
UPDATE schema_version SET version = 2;
"#;

/// The ledger of pulled windows: per window of a shop, what the platform said it held
/// (`NULL` where it gives no total) and how many orders the pull received. Windows are
/// half-open `[start_us, end_us)` in µs since the epoch, on `by_time`. A window pulled again
/// (a repair, an overlapping run) replaces its row. Modification times get an index, for the
/// counts `verify` takes by them.
pub const SQLITE_V3: &str = r#"
CREATE TABLE window_ledger (
    shop            TEXT NOT NULL,
    by_time         TEXT NOT NULL CHECK (by_time IN ('created', 'modified')),
    start_us        INTEGER NOT NULL,
    end_us          INTEGER NOT NULL,
    platform_total  INTEGER,
    received        INTEGER NOT NULL,
    recorded_at     TEXT NOT NULL,
    PRIMARY KEY (shop, by_time, start_us, end_us)
);
CREATE INDEX orders_by_updated ON orders (shop, updated_us);
UPDATE schema_version SET version = 3;
"#;

/// SQLite: one order's lines from its document (`?1` shop, `?2` order id, `?3` the
/// document), the same mapping as the version 2 backfill.
pub const SQLITE_INSERT_LINES: &str = r#"
INSERT INTO order_lines
    SELECT ?1, ?2, CAST(l.key AS INTEGER),
           json_extract(l.value, '$.line_id'), json_extract(l.value, '$.product_id'),
           json_extract(l.value, '$.sku_id'), json_extract(l.value, '$.title'),
           json_extract(l.value, '$.quantity'), json_extract(l.value, '$.unit_price'),
           json_extract(l.value, '$.total'), json_extract(l.value, '$.status'),
           json_extract(l.value, '$.platform_status'), json_extract(l.value, '$.refund_status'),
           json_extract(l.value, '$.carrier'), json_extract(l.value, '$.tracking_number')
    FROM json_each(?3, '$.lines') l
"#;

/// PostgreSQL: version 2 in one step (no PostgreSQL mirror ever had version 1), then the
/// ledger. The same tables and columns; `BIGSERIAL` for the feed, `NUMERIC` for money; `doc` stays text
/// (byte for byte what `pull` printed, as in SQLite; cast it with `doc::jsonb` to query into it).
pub const POSTGRES_STEPS: &[(i64, &str)] = &[(2, POSTGRES_V2), (3, POSTGRES_V3)];

pub const POSTGRES_V2: &str = r#"
CREATE TABLE schema_version (version BIGINT NOT NULL);
INSERT INTO schema_version (version) VALUES (2);

CREATE TABLE shops (
    shop        TEXT PRIMARY KEY,
    platform    TEXT NOT NULL,
    by_time     TEXT NOT NULL CHECK (by_time IN ('created', 'modified')),
    mark        TEXT,
    origin      TEXT,
    updated_at  TEXT NOT NULL
);

CREATE TABLE orders (
    shop            TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    platform        TEXT NOT NULL,
    status          TEXT NOT NULL,
    platform_status TEXT NOT NULL,
    created_at      TEXT,
    updated_at      TEXT,
    paid_at         TEXT,
    created_us      BIGINT,
    updated_us      BIGINT,
    currency        TEXT NOT NULL,
    total           NUMERIC,
    shipping_fee    NUMERIC,
    discount        NUMERIC,
    buyer_id        TEXT,
    buyer_name      TEXT,
    line_count      BIGINT NOT NULL,
    doc             TEXT NOT NULL,
    first_seen      TEXT NOT NULL,
    last_seq        BIGINT NOT NULL,
    PRIMARY KEY (shop, order_id)
);
CREATE INDEX orders_by_created ON orders (shop, created_us, order_id);
CREATE INDEX orders_by_status ON orders (shop, status, created_us);

CREATE TABLE order_changes (
    seq       BIGSERIAL PRIMARY KEY,
    shop      TEXT NOT NULL,
    order_id  TEXT NOT NULL,
    change    TEXT NOT NULL CHECK (change IN ('new', 'updated')),
    changed   TEXT,
    at        TEXT NOT NULL
);
CREATE INDEX order_changes_by_shop ON order_changes (shop, seq);

CREATE TABLE order_lines (
    shop            TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    line_no         BIGINT NOT NULL,
    line_id         TEXT NOT NULL,
    product_id      TEXT,
    sku_id          TEXT,
    title           TEXT NOT NULL,
    quantity        BIGINT NOT NULL,
    unit_price      NUMERIC,
    total           NUMERIC,
    status          TEXT,
    platform_status TEXT,
    refund_status   TEXT,
    carrier         TEXT,
    tracking_number TEXT,
    PRIMARY KEY (shop, order_id, line_no)
);
"#;

/// PostgreSQL: the ledger, as [`SQLITE_V3`].
pub const POSTGRES_V3: &str = r#"
CREATE TABLE window_ledger (
    shop            TEXT NOT NULL,
    by_time         TEXT NOT NULL CHECK (by_time IN ('created', 'modified')),
    start_us        BIGINT NOT NULL,
    end_us          BIGINT NOT NULL,
    platform_total  BIGINT,
    received        BIGINT NOT NULL,
    recorded_at     TEXT NOT NULL,
    PRIMARY KEY (shop, by_time, start_us, end_us)
);
CREATE INDEX orders_by_updated ON orders (shop, updated_us);
UPDATE schema_version SET version = 3;
"#;
