-- The first schema: every table DESIGN.md "Data" names.
--
-- Conventions: timestamps are timestamptz (UTC); money is numeric, never float; secrets are
-- stored only as vault ciphertexts (`*_enc`, text "v1:<kid>:<base64>") or as hashes; every
-- tenant table carries shop_id and its unique keys include it; states and modes are CHECKed
-- here so no code path can store a value the rest of the system does not understand.

-- People ------------------------------------------------------------------------------------

CREATE TABLE users (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email             text NOT NULL CHECK (email = lower(btrim(email)) AND email LIKE '%_@_%'),
    name              text NOT NULL DEFAULT '',
    -- NULL until the user accepts an invite and chooses a password.
    password_hash     text,
    is_platform_admin boolean NOT NULL DEFAULT false,
    locale            text CHECK (locale IN ('da', 'en')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    disabled_at       timestamptz,
    CONSTRAINT users_email_key UNIQUE (email)
);

CREATE TABLE sessions (
    -- sha256 of the cookie value: a leaked table cannot be replayed as cookies.
    id_hash      bytea PRIMARY KEY CHECK (length(id_hash) = 32),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- Single-use links: invites (set a first password) and admin-issued password resets.
CREATE TABLE user_tokens (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text NOT NULL CHECK (purpose IN ('invite', 'password_reset')),
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX user_tokens_user_id_idx ON user_tokens (user_id);

-- Dinero organisations ------------------------------------------------------------------------

-- One row per Dinero organisation; every shop posting into it shares its token set.
CREATE TABLE dinero_connections (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id      bigint NOT NULL CHECK (organization_id > 0),
    organization_name    text NOT NULL DEFAULT '',
    is_pro               boolean NOT NULL DEFAULT true,
    status               text NOT NULL DEFAULT 'active'
                         CHECK (status IN ('active', 'needs_reconnect', 'revoked')),
    access_token_enc     text,
    refresh_token_enc    text,
    access_expires_at    timestamptz,
    -- Who granted the token set at Visma (the token is user-level there), and what for.
    granted_subject      text,
    granted_scope        text,
    connected_by         uuid REFERENCES users (id) ON DELETE SET NULL,
    connected_at         timestamptz NOT NULL DEFAULT now(),
    last_refresh_at      timestamptz,
    -- When the refresh cron may try again after a transient failure (backoff).
    next_refresh_at      timestamptz,
    last_error           text,
    last_error_at        timestamptz,
    consecutive_failures integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dinero_connections_organization_key UNIQUE (organization_id),
    -- A token set is whole or absent (absent once no shop uses the connection).
    CHECK ((access_token_enc IS NULL) = (refresh_token_enc IS NULL)),
    CHECK ((access_token_enc IS NULL) = (access_expires_at IS NULL)),
    CHECK (status <> 'active' OR access_token_enc IS NOT NULL)
);
CREATE INDEX dinero_connections_refresh_idx
    ON dinero_connections (access_expires_at) WHERE status = 'active';

-- Shops (tenants) ------------------------------------------------------------------------------

-- Shops with orders are never deleted (orders RESTRICT): the books must stay explainable.
CREATE TABLE shops (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                   text NOT NULL CHECK (btrim(name) <> '' AND length(name) <= 200),
    slug                   text NOT NULL CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    connection_id          uuid REFERENCES dinero_connections (id) ON DELETE SET NULL,
    -- When an order becomes a document, and what kind of document.
    trigger                text NOT NULL DEFAULT 'paid'
                           CHECK (trigger IN ('paid', 'shipped', 'created')),
    mode                   text NOT NULL DEFAULT 'booked' CHECK (mode IN ('booked', 'draft')),
    document_kind          text NOT NULL DEFAULT 'invoice'
                           CHECK (document_kind IN ('invoice', 'voucher')),
    invoice_text           text NOT NULL DEFAULT '{shop} — order {number}'
                           CHECK (length(invoice_text) <= 1000),
    language               text NOT NULL DEFAULT 'da-DK' CHECK (language IN ('da-DK', 'en-GB')),
    -- Account numbers that replace the standard chart's, by role ("goods_dk", "shipping", ...).
    account_overrides      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(account_overrides) = 'object'),
    register_payments      boolean NOT NULL DEFAULT false,
    -- Deposit account per payment method ("card", "mobilepay", ...), with "default" as fallback.
    payment_accounts       jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payment_accounts) = 'object'),
    -- Receivable account balancing unpaid orders in voucher mode.
    receivable_account     integer CHECK (receivable_account > 0),
    ingest_secret_enc      text NOT NULL,
    ingest_secret_rolled_at timestamptz NOT NULL DEFAULT now(),
    -- After a roll the old secret keeps working for a short overlap, so the shop can deploy it.
    ingest_secret_previous_enc   text,
    ingest_secret_previous_until timestamptz,
    -- NULL while the owner is still setting up (test orders only post as drafts).
    activated_at           timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT shops_slug_key UNIQUE (slug)
);
CREATE INDEX shops_connection_id_idx ON shops (connection_id);

CREATE TABLE memberships (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    shop_id    uuid NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    role       text NOT NULL DEFAULT 'owner' CHECK (role IN ('owner', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, shop_id)
);
CREATE INDEX memberships_shop_id_idx ON memberships (shop_id);

-- Orders and the outbox ------------------------------------------------------------------------

CREATE TABLE orders (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id      uuid NOT NULL REFERENCES shops (id) ON DELETE RESTRICT,
    external_id  text NOT NULL CHECK (btrim(external_id) <> '' AND length(external_id) <= 200),
    number       text NOT NULL CHECK (length(number) <= 200),
    currency     text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    total        numeric(18, 2) NOT NULL,
    -- The canonical order as last received (money as decimal strings).
    payload      jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    ordered_at   timestamptz NOT NULL,
    paid_at      timestamptz,
    shipped_at   timestamptz,
    cancelled_at timestamptz,
    -- occurred_at of the newest event applied: an older event arriving late changes nothing.
    last_event_at timestamptz NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orders_shop_external_key UNIQUE (shop_id, external_id),
    -- Lets documents reference (order, shop) so a document can never cross tenants.
    CONSTRAINT orders_id_shop_key UNIQUE (id, shop_id)
);
CREATE INDEX orders_shop_number_idx ON orders (shop_id, number);

-- Refunds as received, so a credit note can be rebuilt after the owner fixes a setting.
CREATE TABLE refunds (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id     uuid NOT NULL,
    order_id    bigint NOT NULL,
    refund_id   text NOT NULL CHECK (btrim(refund_id) <> '' AND length(refund_id) <= 200),
    total       numeric(18, 2) NOT NULL,
    payload     jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT refunds_order_fkey FOREIGN KEY (order_id, shop_id)
        REFERENCES orders (id, shop_id) ON DELETE RESTRICT,
    CONSTRAINT refunds_order_refund_key UNIQUE (shop_id, order_id, refund_id)
);

-- One row per thing to create in Dinero. The row is the source of truth for what is owed;
-- arq jobs only wake workers up. Each posting step writes its result here before the next.
CREATE TABLE documents (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id          uuid NOT NULL,
    order_id         bigint NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('invoice', 'credit_note', 'voucher', 'payment')),
    -- 0 for an order's invoice or voucher; 1, 2, ... for its refunds and payments.
    seq              integer NOT NULL DEFAULT 0 CHECK (seq >= 0),
    -- What this document is for, within its order: a refund id, a payment reference.
    source_ref       text,
    -- The invoice a credit note credits, the invoice (or credit note) a payment settles,
    -- the voucher a reversing voucher reverses.
    parent_id        bigint,
    -- The Dinero organisation it was (or is being) posted to, fixed at the first attempt and
    -- inherited by credit notes and payments, so a shop that moves to another organisation
    -- never sends a retry, a credit note or a payment for an old invoice to the new one.
    organization_id  bigint,
    state            text NOT NULL DEFAULT 'queued' CHECK (state IN (
                         'waiting',          -- on its parent, or on the order being paid
                         'queued',           -- due at next_attempt_at
                         'needs_reconnect',  -- parked until the organisation is reconnected
                         'failed',           -- Dinero refused it; retryable after a fix
                         'posted',           -- done: booked, left as a draft, or registered
                         'cancelled')),
    -- How far posting got; each step is stored before the next one starts.
    step             text NOT NULL DEFAULT 'new' CHECK (step IN (
                         'new', 'contact', 'file', 'created', 'booked', 'paid')),
    mode             text NOT NULL DEFAULT 'booked' CHECK (mode IN ('booked', 'draft')),
    -- The request we send, computed when the document is made (lines, accounts, amounts).
    payload          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
    currency         text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount           numeric(18, 2) NOT NULL,
    -- Ours and deterministic (uuid5 of shop, order, kind, seq): the Guid we create invoices,
    -- credit notes and contacts with, so a retry can ask Dinero for it before creating again.
    client_guid      uuid NOT NULL,
    -- Dinero's id for what was created: equal to client_guid where Dinero takes ours; for
    -- payments and manual vouchers, the Guid Dinero assigned.
    dinero_guid      uuid,
    -- A payment's RelatedVoucherGuid.
    related_voucher_guid uuid,
    external_reference text NOT NULL CHECK (length(external_reference) <= 128),
    contact_guid     uuid,
    file_guid        uuid,
    dinero_timestamp text,
    dinero_number    bigint,
    dinero_status    text,
    -- The last attempt may have reached Dinero without us seeing the answer.
    uncertain        boolean NOT NULL DEFAULT false,
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    failures         integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_owner      text,
    lease_expires_at timestamptz,
    last_error       text,
    last_error_code  text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    posted_at        timestamptz,
    CONSTRAINT documents_order_fkey FOREIGN KEY (order_id, shop_id)
        REFERENCES orders (id, shop_id) ON DELETE RESTRICT,
    -- The parent belongs to the same shop, never another tenant's.
    CONSTRAINT documents_parent_fkey FOREIGN KEY (parent_id, shop_id)
        REFERENCES documents (id, shop_id) ON DELETE RESTRICT,
    CONSTRAINT documents_shop_order_kind_seq_key UNIQUE (shop_id, order_id, kind, seq),
    CONSTRAINT documents_source_ref_key UNIQUE (shop_id, order_id, kind, source_ref),
    CONSTRAINT documents_client_guid_key UNIQUE (client_guid),
    CONSTRAINT documents_id_shop_key UNIQUE (id, shop_id),
    CHECK (kind NOT IN ('credit_note', 'payment') OR parent_id IS NOT NULL),
    CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL)),
    CHECK (state <> 'posted' OR posted_at IS NOT NULL)
) WITH (fillfactor = 80);  -- state and next_attempt_at change on every attempt: leave room
-- The sweeper's questions: what is due, oldest first, and per shop (fair round-robin).
CREATE INDEX documents_due_idx ON documents (next_attempt_at) WHERE state = 'queued';
CREATE INDEX documents_shop_due_idx ON documents (shop_id, next_attempt_at)
    WHERE state = 'queued';
-- Parking and releasing an organisation's documents on revoke and reconnect.
CREATE INDEX documents_organization_state_idx ON documents (organization_id, state)
    WHERE organization_id IS NOT NULL;
-- The dashboard's questions: a shop's documents by time and by state (keyset pagination).
CREATE INDEX documents_shop_created_idx ON documents (shop_id, created_at DESC, id DESC);
CREATE INDEX documents_shop_state_idx ON documents (shop_id, state, created_at DESC, id DESC);
-- The admin's question: what is stuck anywhere, newest first.
CREATE INDEX documents_attention_idx ON documents (updated_at DESC)
    WHERE state IN ('failed', 'needs_reconnect');
CREATE INDEX documents_parent_idx ON documents (parent_id) WHERE parent_id IS NOT NULL;

-- Contact cache per organisation: (VAT number | e-mail | external ref) -> Dinero contact.
CREATE TABLE contacts (
    organization_id bigint NOT NULL
                    REFERENCES dinero_connections (organization_id) ON DELETE CASCADE,
    key_kind        text NOT NULL CHECK (key_kind IN ('vat', 'email', 'external')),
    key             text NOT NULL CHECK (key <> ''),
    contact_guid    uuid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, key_kind, key)
);

-- What happened, for owners (per shop and document) and the admin (per connection).
-- Connections are never deleted (an unused one only loses its tokens), so their history stays.
CREATE TABLE events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id       uuid REFERENCES shops (id) ON DELETE CASCADE,
    connection_id uuid REFERENCES dinero_connections (id) ON DELETE CASCADE,
    document_id   bigint,
    kind          text NOT NULL CHECK (kind ~ '^[a-z_]+(\.[a-z_]+)+$'),
    level         text NOT NULL DEFAULT 'info' CHECK (level IN ('info', 'warning', 'error')),
    message       text NOT NULL,
    data          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (shop_id IS NOT NULL OR connection_id IS NOT NULL),
    -- A document's event names the document's own shop.
    CHECK (document_id IS NULL OR shop_id IS NOT NULL),
    CONSTRAINT events_document_fkey FOREIGN KEY (document_id, shop_id)
        REFERENCES documents (id, shop_id) ON DELETE CASCADE
);
CREATE INDEX events_shop_idx ON events (shop_id, created_at DESC) WHERE shop_id IS NOT NULL;
CREATE INDEX events_connection_idx ON events (connection_id, created_at DESC)
    WHERE connection_id IS NOT NULL;
CREATE INDEX events_document_idx ON events (document_id) WHERE document_id IS NOT NULL;

-- Ingest event ids already seen, with the answer given, so a repeat gets the same answer.
CREATE TABLE deliveries (
    shop_id         uuid NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    event_id        text NOT NULL CHECK (btrim(event_id) <> '' AND length(event_id) <= 200),
    event_type      text NOT NULL,
    body_sha256     bytea NOT NULL CHECK (length(body_sha256) = 32),
    response_status integer NOT NULL,
    response_body   jsonb NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop_id, event_id)
);
CREATE INDEX deliveries_received_at_idx ON deliveries (received_at);
