-- Settlement: payments on booked invoices and credit notes, and orders booked as manual
-- vouchers carrying the shop's own invoice PDF.

-- Dinero's FileGuid is a plain string (its own example is no UUID), so the column is text.
-- Nothing has written it yet (voucher mode starts with this migration), so dropping and
-- adding is safe, and both are catalogue-only changes: no table rewrite, no long lock.
ALTER TABLE documents DROP COLUMN file_guid;
ALTER TABLE documents
    ADD COLUMN file_guid text CHECK (length(file_guid) <= 200),
    -- The attachment's file name in Dinero, for the owner's document page.
    ADD COLUMN file_name text CHECK (length(file_name) <= 300),
    -- The account the money went to: a payment's deposit account, or the account a
    -- voucher is balanced against (deposit account when paid, receivable when not).
    ADD COLUMN settlement_account integer CHECK (settlement_account > 0);
