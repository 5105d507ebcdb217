-- migrate: no-transaction
-- Payments registered in Dinero whose status (Paid, OverPaid) has not been confirmed yet:
-- what `documents.confirm_payments` asks every ten seconds. Only those few rows are in it.
CREATE INDEX CONCURRENTLY IF NOT EXISTS documents_registered_payments_idx
    ON documents (posted_at)
    WHERE kind = 'payment' AND state = 'posted' AND dinero_status = 'Registered';
