-- Group-committed ingest (`tenants.orders.batch`): one call stores a batch of verified
-- events, one round trip and one commit, each as `tenants.orders.ingest.record_event` would
-- for the common case: an event for an order the shop has not sent before, without a refund
-- or a cancellation. The caller sends at most one event per order and per event id (later
-- ones wait for the one-event transaction), so the statements below work on sets.

-- What a web process's cached copy of a shop must still match (`tenants.shops.ingest_cache`):
-- every column ingest reads from the shop before its transaction. Sessions run in UTC, so
-- the text of the timestamp is the same in every process.
CREATE FUNCTION ingest_fingerprint(s shops) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT md5(row(s.trigger, s.mode, s.register_payments, s.ingest_secret_enc,
                   s.ingest_secret_previous_enc, s.ingest_secret_previous_until)::text)
$$;

-- `events`: a JSON array of objects with the columns of `e` below. Answers one row per
-- event: 'recorded' with its receipt and whether to enqueue its document once committed;
-- 'fallback' (the order or the event id is known: nothing of it stored, for the one-event
-- transaction to record); 'shop_changed' (the cached shop is stale: nothing stored).
CREATE FUNCTION ingest_batch(events jsonb, enqueue_ahead integer)
RETURNS TABLE (event_index integer, event_outcome text, event_receipt jsonb,
               event_enqueue boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_current integer[];  -- events whose shop still has the fingerprint they were verified with
    v_new integer[];      -- events whose order this batch inserted ...
    v_new_ids bigint[];   -- ... and those orders' ids, in the same order
    v_claimed integer[];  -- events whose id this batch claimed (a subset of v_new)
BEGIN
    SELECT coalesce(array_agg(e.idx), '{}') INTO v_current
    FROM jsonb_to_recordset(events) AS e(idx integer, shop_id uuid, fingerprint text)
    WHERE e.fingerprint IS NULL OR EXISTS (
        SELECT 1 FROM shops s WHERE s.id = e.shop_id AND ingest_fingerprint(s) = e.fingerprint);

    -- In key order, so two batches at once lock rows in the same order.
    WITH e AS (
        SELECT * FROM jsonb_to_recordset(events) AS x(
            idx integer, shop_id uuid, external_id text, number text, currency text,
            total numeric, payload jsonb, ordered_at timestamptz, paid_at timestamptz,
            shipped_at timestamptz, occurred_at timestamptz)
        WHERE x.idx = ANY (v_current)
    ),
    inserted AS (
        INSERT INTO orders (shop_id, external_id, number, currency, total, payload, ordered_at,
                            paid_at, shipped_at, cancelled_at, last_event_at)
        SELECT e.shop_id, e.external_id, e.number, e.currency, e.total, e.payload, e.ordered_at,
               e.paid_at, e.shipped_at, NULL, e.occurred_at
        FROM e ORDER BY e.shop_id, e.external_id
        ON CONFLICT (shop_id, external_id) DO NOTHING
        RETURNING id, shop_id, external_id
    )
    SELECT coalesce(array_agg(e.idx ORDER BY e.idx), '{}'),
           coalesce(array_agg(i.id ORDER BY e.idx), '{}')
    INTO v_new, v_new_ids
    FROM inserted i JOIN e ON e.shop_id = i.shop_id AND e.external_id = i.external_id;

    WITH e AS (
        SELECT * FROM jsonb_to_recordset(events) AS x(
            idx integer, shop_id uuid, event_id text, event_type text, body_sha256 text)
        WHERE x.idx = ANY (v_new)
    ),
    claimed AS (
        INSERT INTO deliveries (shop_id, event_id, event_type, body_sha256, response_status,
                                response_body)
        SELECT e.shop_id, e.event_id, e.event_type, decode(e.body_sha256, 'hex'), 202, '{}'
        FROM e ORDER BY e.shop_id, e.event_id
        ON CONFLICT (shop_id, event_id) DO NOTHING
        RETURNING shop_id, event_id
    )
    SELECT coalesce(array_agg(e.idx), '{}') INTO v_claimed
    FROM claimed c JOIN e ON e.shop_id = c.shop_id AND e.event_id = c.event_id;

    -- A known event id: the one-event transaction answers it (its first answer, or 409), and
    -- the order this batch made for it is not its to keep.
    DELETE FROM orders o USING unnest(v_new, v_new_ids) AS n(idx, id)
    WHERE o.id = n.id AND NOT n.idx = ANY (v_claimed);

    RETURN QUERY
    WITH e AS (
        SELECT * FROM jsonb_to_recordset(events) AS x(
            idx integer, shop_id uuid, event_id text, external_id text, currency text,
            total numeric, mode text, make_invoice boolean, invoice jsonb, voucher jsonb)
    ),
    recorded AS (
        SELECT e.*, n.id AS order_id,
               -- Read here, in the transaction that made the order, as `ensure_invoice` does.
               (SELECT CASE WHEN s.document_kind = 'voucher' THEN 'voucher' ELSE 'invoice' END
                FROM shops s WHERE s.id = e.shop_id) AS kind
        FROM e JOIN unnest(v_new, v_new_ids) AS n(idx, id) ON n.idx = e.idx
        WHERE e.idx = ANY (v_claimed)
    ),
    made AS (
        INSERT INTO documents (shop_id, order_id, kind, seq, source_ref, parent_id, state, mode,
                               payload, currency, amount, client_guid, external_reference)
        SELECT r.shop_id, r.order_id, r.kind, 0, NULL, NULL, 'queued', r.mode, '{}',
               r.currency, r.total,
               (CASE r.kind WHEN 'voucher' THEN r.voucher ELSE r.invoice END ->> 'guid')::uuid,
               CASE r.kind WHEN 'voucher' THEN r.voucher ELSE r.invoice END ->> 'reference'
        FROM recorded r WHERE r.make_invoice ORDER BY r.idx
        RETURNING id, order_id, shop_id, kind
    ),
    receipts AS (
        SELECT r.idx, r.shop_id, r.event_id, m.id AS document_id,
               jsonb_build_object(
                   'event_id', r.event_id, 'order_id', r.external_id, 'documents',
                   CASE WHEN m.id IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(
                       jsonb_build_object('id', m.id, 'kind', m.kind, 'state', 'queued')) END
               ) AS body
        FROM recorded r LEFT JOIN made m ON m.order_id = r.order_id
    ),
    answered AS (
        UPDATE deliveries d SET response_body = r.body FROM receipts r
        WHERE d.shop_id = r.shop_id AND d.event_id = r.event_id
    ),
    -- What each shop had queued before this batch (this statement does not see its own
    -- inserts): the n-th new document of a shop had that plus n - 1 queued before it.
    queued AS (
        SELECT s.shop_id, (
            SELECT count(*) FROM (
                SELECT 1 FROM documents d WHERE d.shop_id = s.shop_id AND d.state = 'queued'
                LIMIT enqueue_ahead) AS q
        ) AS before
        FROM (SELECT DISTINCT m.shop_id FROM made m) AS s
    ),
    ranked AS (
        SELECT m.id,
               q.before + row_number() OVER (PARTITION BY m.shop_id ORDER BY m.id) - 1 AS ahead
        FROM made m JOIN queued q ON q.shop_id = m.shop_id
    )
    SELECT e.idx,
           CASE WHEN NOT e.idx = ANY (v_current) THEN 'shop_changed'
                WHEN e.idx = ANY (v_claimed) THEN 'recorded'
                ELSE 'fallback' END,
           r.body,
           coalesce(k.ahead < enqueue_ahead, false)
    FROM e LEFT JOIN receipts r ON r.idx = e.idx LEFT JOIN ranked k ON k.id = r.document_id
    ORDER BY e.idx;
END
$$;
