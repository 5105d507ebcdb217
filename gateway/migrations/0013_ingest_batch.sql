-- Group-committed ingest: one call stores a batch of verified events (one round trip, one
-- commit), each as `tenants.orders.ingest.record_event` would for the common case — an event
-- for an order the shop has not sent before, without a refund or a cancellation. Anything
-- else comes back as 'fallback', untouched, for the one-event transaction to record after
-- this batch has committed; so does every later event of the batch for the same order or the
-- same event id, so events are applied in the order they arrived, as across batches.
--
-- `events` is a JSON array; each element has shop_id, event_id, external_id and either
-- "fallback": true or everything below. Answers one row per element, in order:
-- outcome 'recorded' (receipt, and the new queued documents to enqueue once committed),
-- 'fallback', or 'shop_changed' (the cached shop's fingerprint no longer matches: nothing
-- stored; verify again).
-- What a web process's cached copy of a shop must still match (`tenants.shops.ingest_cache`):
-- every column ingest reads from the shop before its transaction. Sessions run in UTC, so
-- the text of the timestamp is the same in every process.
CREATE FUNCTION ingest_fingerprint(s shops) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT md5(row(s.trigger, s.mode, s.register_payments, s.ingest_secret_enc,
                   s.ingest_secret_previous_enc, s.ingest_secret_previous_until)::text)
$$;

CREATE FUNCTION ingest_batch(events jsonb, enqueue_ahead integer)
RETURNS TABLE (idx integer, outcome text, receipt jsonb, enqueue bigint[])
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    e jsonb;
    n bigint;
    v_shop uuid;
    v_order bigint;
    v_kind text;
    v_document bigint;
    v_documents jsonb;
    v_queued bigint;
    -- Orders and event ids of this batch left to the one-event transaction.
    v_later text[] := '{}';
BEGIN
    FOR e, n IN SELECT value, ordinality FROM jsonb_array_elements(events) WITH ORDINALITY LOOP
        idx := n;
        receipt := NULL;
        enqueue := '{}';
        v_shop := (e->>'shop_id')::uuid;
        IF coalesce((e->>'fallback')::boolean, false)
           OR 'o:' || v_shop || ':' || (e->>'external_id') = ANY (v_later)
           OR 'e:' || v_shop || ':' || (e->>'event_id') = ANY (v_later) THEN
            v_later := v_later || ('o:' || v_shop || ':' || (e->>'external_id'))
                               || ('e:' || v_shop || ':' || (e->>'event_id'));
            outcome := 'fallback';
            RETURN NEXT;
            CONTINUE;
        END IF;
        IF e->>'fingerprint' IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM shops s
            WHERE s.id = v_shop AND ingest_fingerprint(s) = e->>'fingerprint') THEN
            v_later := v_later || ('o:' || v_shop || ':' || (e->>'external_id'))
                               || ('e:' || v_shop || ':' || (e->>'event_id'));
            outcome := 'shop_changed';
            RETURN NEXT;
            CONTINUE;
        END IF;
        v_order := NULL;
        INSERT INTO orders (shop_id, external_id, number, currency, total, payload, ordered_at,
                            paid_at, shipped_at, cancelled_at, last_event_at)
        VALUES (v_shop, e->>'external_id', e->>'number', e->>'currency',
                (e->>'total')::numeric, e->'payload', (e->>'ordered_at')::timestamptz,
                (e->>'paid_at')::timestamptz, (e->>'shipped_at')::timestamptz, NULL,
                (e->>'occurred_at')::timestamptz)
        ON CONFLICT (shop_id, external_id) DO NOTHING
        RETURNING id INTO v_order;
        IF v_order IS NOT NULL THEN
            INSERT INTO deliveries (shop_id, event_id, event_type, body_sha256,
                                    response_status, response_body)
            VALUES (v_shop, e->>'event_id', e->>'event_type',
                    decode(e->>'body_sha256', 'hex'), 202, '{}')
            ON CONFLICT (shop_id, event_id) DO NOTHING;
            IF NOT FOUND THEN
                -- A known event id: the one-event transaction answers it (first answer or
                -- 409); the order this batch just made is not its to keep.
                DELETE FROM orders WHERE id = v_order;
                v_order := NULL;
            END IF;
        END IF;
        IF v_order IS NULL THEN
            v_later := v_later || ('o:' || v_shop || ':' || (e->>'external_id'))
                               || ('e:' || v_shop || ':' || (e->>'event_id'));
            outcome := 'fallback';
            RETURN NEXT;
            CONTINUE;
        END IF;
        v_documents := '[]';
        IF (e->>'make_invoice')::boolean THEN
            -- Read here, under the new order's row, like `OrderDocuments.ensure_invoice`.
            SELECT CASE WHEN s.document_kind = 'voucher' THEN 'voucher' ELSE 'invoice' END
            INTO v_kind FROM shops s WHERE s.id = v_shop;
            INSERT INTO documents (shop_id, order_id, kind, seq, source_ref, parent_id, state,
                                   mode, payload, currency, amount, client_guid,
                                   external_reference)
            VALUES (v_shop, v_order, v_kind, 0, NULL, NULL, 'queued', e->>'mode', '{}',
                    e->>'currency', (e->>'total')::numeric, (e->v_kind->>'guid')::uuid,
                    e->v_kind->>'reference')
            RETURNING id INTO v_document;
            v_documents := jsonb_build_array(
                jsonb_build_object('id', v_document, 'kind', v_kind, 'state', 'queued'));
            SELECT count(*) INTO v_queued FROM (
                SELECT 1 FROM documents d WHERE d.shop_id = v_shop AND d.state = 'queued'
                LIMIT enqueue_ahead + 1) AS queued;
            IF v_queued - 1 < enqueue_ahead THEN
                enqueue := ARRAY[v_document];
            END IF;
        END IF;
        receipt := jsonb_build_object('event_id', e->>'event_id', 'order_id', e->>'external_id',
                                      'documents', v_documents);
        UPDATE deliveries d SET response_body = receipt
        WHERE d.shop_id = v_shop AND d.event_id = e->>'event_id';
        outcome := 'recorded';
        RETURN NEXT;
    END LOOP;
END
$$;
