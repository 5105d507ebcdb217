-- E-mail: alerts (what the owners should hear about), the mail outbox (each message to
-- each recipient, rendered, until the SMTP server has accepted it), and who wants which.

-- One row per thing worth telling a shop's people about. `dedupe_key` names what it is
-- about ("connection.needs_reconnect:<id>"): at most one pending alert per key, and a new
-- one waits until `min_interval` after the last one sent, so a flapping connection makes
-- one mail, not fifty. Rows are written in the transaction that saw the trouble.
CREATE TABLE alerts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN (
                      'connection.needs_reconnect', 'connection.renewal_failing',
                      'documents.failed', 'source.stopped')),
    dedupe_key    text NOT NULL CHECK (length(dedupe_key) <= 200),
    -- What it is about: a Dinero connection, a shop or a source.
    connection_id uuid REFERENCES dinero_connections (id) ON DELETE CASCADE,
    shop_id       uuid REFERENCES shops (id) ON DELETE CASCADE,
    source_id     uuid REFERENCES sources (id) ON DELETE CASCADE,
    state         text NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'mailed', 'cancelled')),
    due_at        timestamptz NOT NULL,
    created_at    timestamptz NOT NULL,
    -- When its mails were written into the outbox (or it was found to be over already).
    done_at       timestamptz,
    CHECK ((state = 'pending') = (done_at IS NULL)),
    CHECK (num_nonnulls(connection_id, shop_id, source_id) >= 1)
);
CREATE UNIQUE INDEX alerts_pending_key ON alerts (dedupe_key) WHERE state = 'pending';
CREATE INDEX alerts_due_idx ON alerts (due_at) WHERE state = 'pending';
CREATE INDEX alerts_key_done_idx ON alerts (dedupe_key, done_at DESC) WHERE state = 'mailed';

-- The mail outbox: one row per message and recipient, rendered in the recipient's language.
-- A sender claims due rows (FOR UPDATE SKIP LOCKED), pushing next_attempt_at past the
-- time a send may take, sends, and marks the row sent once the server has accepted it; a
-- failure sets next_attempt_at with back-off. A sender that dies mid-send leaves the row
-- due again later: nothing is lost.
CREATE TABLE mails (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         uuid REFERENCES users (id) ON DELETE CASCADE,
    alert_id        bigint REFERENCES alerts (id) ON DELETE SET NULL,
    recipient       text NOT NULL CHECK (recipient LIKE '%_@_%' AND length(recipient) <= 320),
    -- The same mail is never queued twice: one row per (recipient, dedupe_key).
    dedupe_key      text NOT NULL CHECK (length(dedupe_key) <= 300),
    subject         text NOT NULL CHECK (length(subject) <= 300),
    body_text       text NOT NULL,
    body_html       text NOT NULL,
    -- Extra headers, e.g. List-Unsubscribe: [["name", "value"], ...]
    headers         jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(headers) = 'array'),
    state           text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL,
    last_error      text,
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz,
    CHECK ((state = 'sent') = (sent_at IS NOT NULL)),
    CONSTRAINT mails_recipient_dedupe_key UNIQUE (recipient, dedupe_key)
);
CREATE INDEX mails_due_idx ON mails (next_attempt_at) WHERE state = 'queued';
CREATE INDEX mails_user_idx ON mails (user_id, created_at DESC);

-- Alerts a user does not want by mail (everything else they get).
CREATE TABLE mail_opt_outs (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN (
                   'connection.needs_reconnect', 'connection.renewal_failing',
                   'documents.failed', 'source.stopped')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, kind)
);
