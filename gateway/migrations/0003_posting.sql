-- Posting: the contact mirror's sync point, and the indexes the sweeper's questions need.

-- How far each organisation's contact mirror (the `contacts` cache) is in step with Dinero.
-- The row is also the lock one worker holds while it lists the organisation's contacts.
CREATE TABLE contact_syncs (
    organization_id bigint PRIMARY KEY
                    REFERENCES dinero_connections (organization_id) ON DELETE CASCADE,
    -- When the last complete listing began (our clock); NULL until the first one finished.
    synced_at       timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Leases whose worker died: the sweeper recovers them every few seconds.
CREATE INDEX documents_lease_idx ON documents (lease_expires_at) WHERE lease_owner IS NOT NULL;
-- Documents waiting for their parent (credit notes for their invoice).
CREATE INDEX documents_waiting_idx ON documents (parent_id) WHERE state = 'waiting';
