-- The activation gate and the shop's time zone.
--
-- Until its owner activates a shop, only its test order posts; its other documents wait in
-- `awaiting_activation` until Activate releases them. The new check allows a superset of
-- the old one, so every stored row already satisfies it: NOT VALID skips a scan of the
-- whole table under this transaction's lock, and new and updated rows are checked as ever.
ALTER TABLE documents DROP CONSTRAINT documents_state_check;
ALTER TABLE documents ADD CONSTRAINT documents_state_check CHECK (state IN (
    'waiting',              -- on its parent, or on the order being paid
    'awaiting_activation',  -- its shop is not activated yet (test orders excepted)
    'queued',               -- due at next_attempt_at
    'needs_reconnect',      -- parked until the organisation is reconnected
    'failed',               -- Dinero refused it; retryable after a fix
    'posted',               -- done: booked, left as a draft, or registered
    'cancelled')) NOT VALID;

-- Before the gate, a shop's orders were booked whether or not it was activated: every shop
-- that exists now counts as activated since it was created, so nothing flowing stops.
UPDATE shops SET activated_at = created_at WHERE activated_at IS NULL;
-- The sweeper looks for shops still being set up every two seconds: few, among many.
CREATE INDEX shops_not_activated_idx ON shops (id) WHERE activated_at IS NULL;

-- The time zone the owner's pages show the shop's times in (stored times stay UTC). The
-- form checks the name against the time zone database; the database only bounds it.
ALTER TABLE shops ADD COLUMN time_zone text NOT NULL DEFAULT 'Europe/Copenhagen'
    CHECK (time_zone ~ '^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$' AND length(time_zone) <= 64);
