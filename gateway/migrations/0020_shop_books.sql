-- Which accounting system a shop books into is the shop's choice, and a document goes to the
-- system its shop chose when the document was made: a shop that later moves to another
-- system keeps its posted documents (and their ids) where they are. Dinero is the only
-- backend so far, so every shop says 'dinero' (a constant default rewrites no rows).
ALTER TABLE shops ADD COLUMN backend text NOT NULL DEFAULT 'dinero'
    CHECK (backend ~ '^[a-z][a-z0-9_]*$');

-- Every path that makes documents (`ingest_batch`, the one-event transaction, payments and
-- refunds later in an order's life) gets the backend here, so none of them can forget it.
CREATE FUNCTION documents_take_shop_backend() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- No such shop: the row keeps what it had, and its foreign key says what is wrong.
    NEW.backend := coalesce((SELECT s.backend FROM shops s WHERE s.id = NEW.shop_id),
                            NEW.backend);
    RETURN NEW;
END $$;

CREATE TRIGGER documents_take_shop_backend BEFORE INSERT ON documents
    FOR EACH ROW EXECUTE FUNCTION documents_take_shop_backend();

-- A shop and the books it posts into, whatever the backend: the connection it posts
-- through, that connection's organisation (the unit of a backend's call budget) and its
-- status ('active' when posting may go ahead). The sweeper, the payment-status questions and
-- a shop's settings read this, never a backend's connection table; a second backend's
-- migration redefines the view with its own connections as one more branch.
CREATE VIEW shop_books AS
SELECT s.id AS shop_id, s.backend, c.id AS connection_id, c.organization_id,
       c.status AS connection_status
FROM shops s
LEFT JOIN dinero_connections c ON s.backend = 'dinero' AND c.id = s.connection_id;
