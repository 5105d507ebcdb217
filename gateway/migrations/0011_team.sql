-- The team: owners invite bookkeepers (or more owners), and an audit log says who changed
-- what in a shop.

-- 'viewer' was never offered to anyone; a bookkeeper sees everything and retries failed
-- documents, which is what a viewer would have wanted.
ALTER TABLE memberships DROP CONSTRAINT memberships_role_check;
UPDATE memberships SET role = 'bookkeeper' WHERE role = 'viewer';
ALTER TABLE memberships ADD CONSTRAINT memberships_role_check
    CHECK (role IN ('owner', 'bookkeeper'));

-- An owner's invitation to join a shop: the link's token is the credential, so only its
-- sha256 is kept. Used once, and only before it expires.
CREATE TABLE team_invites (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    shop_id     uuid NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    email       text NOT NULL CHECK (email = lower(btrim(email)) AND length(email) <= 254),
    role        text NOT NULL CHECK (role IN ('owner', 'bookkeeper')),
    invited_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    used_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    revoked_at  timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX team_invites_shop_idx ON team_invites (shop_id, created_at DESC);

-- Who changed a shop's settings, secrets, connections, activation or members, in words an
-- owner reads. Never a secret's value.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop_id     uuid NOT NULL REFERENCES shops (id) ON DELETE CASCADE,
    actor_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    -- Kept as it was at the time, so the log still says who after the user is gone.
    actor_email text NOT NULL DEFAULT '' CHECK (length(actor_email) <= 254),
    action      text NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    detail      text NOT NULL DEFAULT '' CHECK (length(detail) <= 500),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_shop_idx ON audit_log (shop_id, created_at DESC, id DESC);
