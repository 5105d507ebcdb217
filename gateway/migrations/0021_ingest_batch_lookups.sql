-- `ingest_batch` (0017) planned two of its lookups badly. The check of the shops'
-- fingerprints became a scan of every shop, computing each one's fingerprint, per batch;
-- and each shop's queued documents were counted once per event of the batch for every shop
-- in it (16 x 16 counts for a batch of 16 shops), which, when a count went through the index
-- of all queued documents (as it may before `documents` has statistics), made a batch take
-- hundreds of milliseconds. Here each event's shop is read by its key and each shop's queued
-- documents are counted once. Same signature, same answers.
CREATE OR REPLACE FUNCTION ingest_batch(events jsonb, enqueue_ahead integer)
RETURNS TABLE (event_index integer, event_outcome text, event_receipt jsonb,
               event_enqueue boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_sequence regclass := pg_get_serial_sequence('documents', 'id')::regclass;
    v_current integer[];  -- events whose shop still has the fingerprint they were verified with
    v_new integer[];      -- events whose order this batch inserted ...
    v_new_ids bigint[];   -- ... and those orders' ids, in the same order
    v_claimed integer[];  -- events whose id this batch claimed (a subset of v_new) ...
    v_documents bigint[]; -- ... the id of the document each makes (NULL: none yet) ...
    v_kinds text[];       -- ... its kind ...
    v_receipts jsonb[];   -- ... and the receipt stored with its delivery
BEGIN
    -- Each event's shop by its key: a lookup per event, whatever the number of shops.
    SELECT coalesce(array_agg(e.idx), '{}') INTO v_current
    FROM jsonb_to_recordset(events) AS e(idx integer, shop_id uuid, fingerprint text)
    WHERE e.fingerprint IS NULL
       OR (SELECT ingest_fingerprint(s) FROM shops s WHERE s.id = e.shop_id) = e.fingerprint;

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
            idx integer, shop_id uuid, event_id text, event_type text, body_sha256 text,
            external_id text, make_invoice boolean)
        WHERE x.idx = ANY (v_new)
    ),
    -- Referenced twice, so computed once: each document id is drawn exactly once.
    planned AS MATERIALIZED (
        SELECT p.*,
               CASE WHEN p.make_invoice THEN nextval(v_sequence) END AS document_id
        FROM (
            SELECT e.*,
                   -- Read here, in the transaction that made the order, as `ensure_invoice`
                   -- does.
                   (SELECT CASE WHEN s.document_kind = 'voucher' THEN 'voucher'
                                ELSE 'invoice' END
                    FROM shops s WHERE s.id = e.shop_id) AS kind
            FROM e ORDER BY e.idx
        ) AS p
    ),
    claimed AS (
        INSERT INTO deliveries (shop_id, event_id, event_type, body_sha256, response_status,
                                response_body)
        SELECT p.shop_id, p.event_id, p.event_type, decode(p.body_sha256, 'hex'), 202,
               jsonb_build_object(
                   'event_id', p.event_id, 'order_id', p.external_id, 'documents',
                   CASE WHEN p.document_id IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(
                       jsonb_build_object('id', p.document_id, 'kind', p.kind,
                                          'state', 'queued')) END)
        FROM planned p ORDER BY p.shop_id, p.event_id
        ON CONFLICT (shop_id, event_id) DO NOTHING
        RETURNING shop_id, event_id, response_body
    )
    SELECT coalesce(array_agg(p.idx ORDER BY p.idx), '{}'),
           coalesce(array_agg(p.document_id ORDER BY p.idx), '{}'),
           coalesce(array_agg(p.kind ORDER BY p.idx), '{}'),
           coalesce(array_agg(c.response_body ORDER BY p.idx), '{}')
    INTO v_claimed, v_documents, v_kinds, v_receipts
    FROM claimed c JOIN planned p ON p.shop_id = c.shop_id AND p.event_id = c.event_id;

    -- A known event id: the one-event transaction answers it (its first answer, or 409), and
    -- the order this batch made for it is not its to keep.
    DELETE FROM orders o USING unnest(v_new, v_new_ids) AS n(idx, id)
    WHERE o.id = n.id AND NOT n.idx = ANY (v_claimed);

    RETURN QUERY
    WITH e AS (
        SELECT * FROM jsonb_to_recordset(events) AS x(
            idx integer, shop_id uuid, currency text, total numeric, mode text,
            invoice jsonb, voucher jsonb)
    ),
    recorded AS (
        SELECT e.*, n.id AS order_id, r.document_id, r.kind, r.receipt
        FROM unnest(v_claimed, v_documents, v_kinds, v_receipts)
                 AS r(idx, document_id, kind, receipt)
        JOIN e ON e.idx = r.idx
        JOIN unnest(v_new, v_new_ids) AS n(idx, id) ON n.idx = r.idx
    ),
    made AS (
        INSERT INTO documents (id, shop_id, order_id, kind, seq, source_ref, parent_id, state,
                               mode, payload, currency, amount, client_guid,
                               external_reference)
        OVERRIDING SYSTEM VALUE
        SELECT r.document_id, r.shop_id, r.order_id, r.kind, 0, NULL, NULL, 'queued', r.mode,
               '{}', r.currency, r.total,
               (CASE r.kind WHEN 'voucher' THEN r.voucher ELSE r.invoice END ->> 'guid')::uuid,
               CASE r.kind WHEN 'voucher' THEN r.voucher ELSE r.invoice END ->> 'reference'
        FROM recorded r WHERE r.document_id IS NOT NULL ORDER BY r.idx
        RETURNING id, shop_id
    ),
    -- What each shop had queued before this batch (this statement does not see its own
    -- inserts): the n-th new document of a shop had that plus n - 1 queued before it.
    -- Once per shop of the batch (materialized: not again for every event).
    queued AS MATERIALIZED (
        SELECT s.shop_id, (
            SELECT count(*) FROM (
                SELECT 1 FROM documents d WHERE d.shop_id = s.shop_id AND d.state = 'queued'
                LIMIT enqueue_ahead) AS q
        ) AS before
        FROM (SELECT DISTINCT m.shop_id FROM made m) AS s
    ),
    ranked AS MATERIALIZED (
        SELECT m.id,
               q.before + row_number() OVER (PARTITION BY m.shop_id ORDER BY m.id) - 1 AS ahead
        FROM made m JOIN queued q ON q.shop_id = m.shop_id
    )
    SELECT e.idx,
           CASE WHEN NOT e.idx = ANY (v_current) THEN 'shop_changed'
                WHEN e.idx = ANY (v_claimed) THEN 'recorded'
                ELSE 'fallback' END,
           r.receipt,
           coalesce(k.ahead < enqueue_ahead, false)
    FROM e LEFT JOIN recorded r ON r.idx = e.idx LEFT JOIN ranked k ON k.id = r.document_id
    ORDER BY e.idx;
END
$$;
