-- WooCommerce sources. WooCommerce signs each webhook with a secret of its own, so the
-- gateway keeps one row per webhook it made in a store, with that secret encrypted (the row's
-- id and column as associated data, as every encrypted column; `gateway keys rotate` too).
CREATE TABLE source_webhooks (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_id     uuid NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    topic         text NOT NULL
                  CHECK (topic IN ('order.created', 'order.updated', 'order.deleted')),
    webhook_id    bigint NOT NULL CHECK (webhook_id > 0),
    secret_enc    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT source_webhooks_topic_key UNIQUE (source_id, topic)
);

-- What the gateway mended on its own (a webhook the platform had disabled), for the owner to
-- see on the source card until it is dismissed by the next notice.
ALTER TABLE sources
    ADD COLUMN notice    text CHECK (length(notice) <= 1000),
    ADD COLUMN notice_at timestamptz;

-- WooCommerce's key flow hands the state back in the store's own POST, not in the browser's
-- return: the flow remembers what became of it for the browser to be told.
ALTER TABLE source_flows
    ADD COLUMN source_id uuid REFERENCES sources (id) ON DELETE SET NULL,
    ADD COLUMN outcome   text CHECK (length(outcome) <= 1000);
