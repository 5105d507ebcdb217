-- Connect / reconnect in flight, and the refresh cron's index.

-- One row per press of "Connect": the single-use `state` (hashed), bound to the session and
-- the shop, with the PKCE verifier. After the code exchange it holds the token set until the
-- owner picks an organisation (when several are offered). Rows live minutes; the cleanup cron
-- deletes them.
CREATE TABLE oauth_flows (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    state_hash        bytea NOT NULL CHECK (length(state_hash) = 32),
    session_hash      bytea NOT NULL CHECK (length(session_hash) = 32),
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    shop_id           uuid NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    code_verifier_enc text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    -- Set once the code is exchanged (the state cannot be used again after that).
    exchanged_at      timestamptz,
    access_token_enc  text,
    refresh_token_enc text,
    access_expires_at timestamptz,
    granted_scope     text,
    organizations     jsonb,
    completed_at      timestamptz,
    CONSTRAINT oauth_flows_state_key UNIQUE (state_hash),
    CHECK (expires_at > created_at),
    CHECK (access_token_enc IS NULL OR exchanged_at IS NOT NULL)
);
CREATE INDEX oauth_flows_expires_at_idx ON oauth_flows (expires_at);

-- The refresh cron asks "which active connections are due?": next_refresh_at holds the
-- answer (shortly before the access token expires, at most a day after the last refresh, or
-- later after failures), so the query is one index range.
UPDATE dinero_connections SET next_refresh_at = coalesce(next_refresh_at, now())
    WHERE status = 'active';
CREATE INDEX dinero_connections_due_idx ON dinero_connections (next_refresh_at)
    WHERE status = 'active';
