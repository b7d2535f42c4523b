-- Catalog (DESIGN 3.3). Prices in fen; tax rate as text ("0.13") to stay exact.
CREATE TABLE items (
    id            INTEGER PRIMARY KEY,
    gtin          TEXT UNIQUE,            -- GTIN-14, NULL for PLU-only produce
    plu           TEXT UNIQUE,
    name_zh       TEXT NOT NULL,
    name_en       TEXT NOT NULL,
    price_fen     INTEGER NOT NULL CHECK (price_fen >= 0),
    unit          TEXT NOT NULL CHECK (unit IN ('each', 'kg')),
    weight_g      INTEGER,
    weight_tol_g  INTEGER,
    tare_g        INTEGER NOT NULL DEFAULT 0,
    age_min       INTEGER NOT NULL DEFAULT 0,
    tax_rate      TEXT NOT NULL DEFAULT '0.13',
    stock         INTEGER,
    category      TEXT NOT NULL DEFAULT '',
    CHECK (gtin IS NOT NULL OR plu IS NOT NULL)
);

-- Completed sales. A sale row exists only once paid; times are UTC ISO-8601.
CREATE TABLE sales (
    sale_id        TEXT PRIMARY KEY,
    kiosk_id       TEXT NOT NULL,
    store          TEXT NOT NULL,
    lane           INTEGER NOT NULL,
    started_at     TEXT NOT NULL,
    completed_at   TEXT NOT NULL,
    total_fen      INTEGER NOT NULL CHECK (total_fen >= 0),
    currency       TEXT NOT NULL,
    member_id      TEXT,
    receipt_token  TEXT NOT NULL UNIQUE,
    attendants     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sales_completed_at ON sales (completed_at);

CREATE TABLE sale_lines (
    sale_id         TEXT NOT NULL REFERENCES sales (sale_id),
    line_no         INTEGER NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('item', 'discount')),
    gtin            TEXT,
    plu             TEXT,
    name_zh         TEXT NOT NULL,
    name_en         TEXT NOT NULL,
    qty             INTEGER NOT NULL,
    weight_g        INTEGER,
    unit_price_fen  INTEGER NOT NULL,
    amount_fen      INTEGER NOT NULL,
    tax_rate        TEXT NOT NULL,
    age_min         INTEGER NOT NULL DEFAULT 0,
    code            TEXT,
    PRIMARY KEY (sale_id, line_no)
);

CREATE TABLE payments (
    sale_id     TEXT NOT NULL REFERENCES sales (sale_id),
    seq         INTEGER NOT NULL,
    method      TEXT NOT NULL,
    amount_fen  INTEGER NOT NULL,
    status      TEXT NOT NULL,
    reference   TEXT,
    PRIMARY KEY (sale_id, seq)
);

-- Who did what and when: interventions, staff approvals, voids, abandoned carts, config changes.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    kind      TEXT NOT NULL,
    sale_id   TEXT,
    staff_id  TEXT,
    detail    TEXT NOT NULL DEFAULT '{}'   -- JSON
);
CREATE INDEX audit_log_at ON audit_log (at);

-- Messages for the fleet, written in the same transaction as the fact they report (DESIGN 3.6).
-- A row is deleted only when its msg_id is acknowledged on down/ack.
CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id      TEXT NOT NULL UNIQUE,
    topic       TEXT NOT NULL,            -- suffix under kiosk/v1/{id}/up/: 'sales' or 'events'
    payload     TEXT NOT NULL,            -- JSON
    created_at  TEXT NOT NULL,
    sent_at     TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0
);
