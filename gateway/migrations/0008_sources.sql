-- Sources: the shop platforms a shop's orders come from, besides the signed ingest API
-- (which every shop has and needs no row). One store feeds one shop.

CREATE TABLE sources (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    shop_id              uuid NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    platform             text NOT NULL CHECK (platform IN ('shopify', 'woocommerce')),
    -- The store on its platform: a Shopify shop's myshopify.com domain.
    store                text NOT NULL CHECK (btrim(store) <> '' AND length(store) <= 300),
    status               text NOT NULL DEFAULT 'connected'
                         CHECK (status IN ('connected', 'needs_reconnect', 'uninstalled', 'failing')),
    -- Why the status is what it is, in words the owner can act on.
    status_detail        text CHECK (length(status_detail) <= 1000),
    -- The platform's credentials (a Shopify offline access token), encrypted with the row's
    -- id and column as associated data; NULL once the app is uninstalled.
    credentials_enc      text,
    scopes               text NOT NULL DEFAULT '' CHECK (length(scopes) <= 1000),
    -- Per-source mapping settings, e.g. {"vat_number_keys": [...]}.
    settings             jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
    last_delivery_at     timestamptz,
    -- Reconcile reads orders updated since this watermark; the next run is due at
    -- reconcile_due_at (a webhook that cannot be applied alone brings it forward).
    reconcile_watermark  timestamptz NOT NULL,
    reconcile_due_at     timestamptz NOT NULL DEFAULT now(),
    reconciled_at        timestamptz,
    -- Orders reconcile found that no webhook had brought: what Shopify gave up on.
    found_by_reconcile   integer NOT NULL DEFAULT 0 CHECK (found_by_reconcile >= 0),
    connected_at         timestamptz NOT NULL DEFAULT now(),
    uninstalled_at       timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sources_store_key UNIQUE (platform, store),
    CONSTRAINT sources_shop_platform_key UNIQUE (shop_id, platform)
);

CREATE INDEX sources_reconcile_due_idx ON sources (reconcile_due_at) WHERE status <> 'uninstalled';

-- A platform install in flight: a single-use state bound to the session and the shop.
CREATE TABLE source_flows (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    state_hash    bytea NOT NULL UNIQUE,
    session_hash  bytea NOT NULL,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    shop_id       uuid NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    platform      text NOT NULL CHECK (platform IN ('shopify', 'woocommerce')),
    store         text NOT NULL CHECK (length(store) <= 300),
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz
);

-- Orders a source delivered that the gateway could not book, with the problem, so the
-- owner sees them (the platform was answered 200: retrying would not make them bookable).
CREATE TABLE source_problems (
    source_id     uuid NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    order_ref     text NOT NULL CHECK (length(order_ref) <= 200),
    order_name    text CHECK (length(order_name) <= 200),
    problem       jsonb NOT NULL,
    seen_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_id, order_ref)
);

-- The platforms' privacy requests (Shopify's mandatory compliance webhooks): what came,
-- and what the gateway did about it.
CREATE TABLE privacy_requests (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform      text NOT NULL,
    store         text NOT NULL,
    topic         text NOT NULL,
    shop_id       uuid REFERENCES shops (id) ON DELETE SET NULL,
    detail        jsonb NOT NULL,
    action        text NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now()
);

-- Bringing in a source's orders from before it was connected: one backfill per source at a
-- time, resumable (the cursor is stored after each page), paced by the shop's posting backlog.
CREATE TABLE source_backfills (
    source_id     uuid PRIMARY KEY REFERENCES sources (id) ON DELETE CASCADE,
    since         timestamptz NOT NULL,
    -- Orders created from here on are the webhooks' and reconcile's.
    until         timestamptz NOT NULL CHECK (until > since),
    status        text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    detail        text CHECK (length(detail) <= 1000),
    cursor        text CHECK (length(cursor) <= 1000),
    -- Shopify's count of the orders in range, when it gave one.
    total         integer CHECK (total >= 0),
    read          integer NOT NULL DEFAULT 0 CHECK (read >= 0),
    problems      integer NOT NULL DEFAULT 0 CHECK (problems >= 0),
    due_at        timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz
);
CREATE INDEX source_backfills_due_idx ON source_backfills (due_at) WHERE status = 'running';
