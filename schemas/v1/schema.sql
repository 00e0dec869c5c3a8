-- V1: the legacy brokerage schema (PostgreSQL, schema public).
--
-- Legacy on purpose: money as integer cents, statuses as int codes, naive `timestamp` columns written in
-- America/New_York, JSON kept in text columns, 'Y'/'N' flags. Of the 32 foreign-key relationships only
-- the five that were added later are declared as constraints (agent_licenses, the 6th clean one, exists
-- only in V2: it links the two halves of the agents split); the other 26 are plain columns and hold
-- orphans. See schemas/README.md and replicator/demo/spec.py for the figures.
--
-- Idempotent: drops and recreates only the tables the demo scenario owns. The replicator's own schema
-- (`replicator`) is created elsewhere (replicator/db/sql/v1_bootstrap.sql).
--
-- Layout follows pg_dump: tables first; a line reading exactly "-- replicator:post-data" separates
-- the constraints, indexes and sequence positions, which the demo loader applies after COPY (bulk
-- validation is faster than row by row). Running the whole file at once is equally valid.

DROP TABLE IF EXISTS
    notes, documents, audit_logs, transaction_logs, commissions, transaction_parties, transactions,
    offers, showings, listing_photos, listings, customer_metadata, customers, agents, teams,
    archived_users, users, offices, networks
    CASCADE;

CREATE TABLE networks (
    id          serial PRIMARY KEY,
    name        text NOT NULL,
    code        varchar(12) NOT NULL,
    region      text,
    is_active   char(1) NOT NULL DEFAULT 'Y',           -- 'Y' / 'N'
    created_at  timestamp NOT NULL                       -- naive, America/New_York
);

CREATE TABLE offices (
    id          serial PRIMARY KEY,
    network_id  integer NOT NULL,                        -- → networks (declared)
    name        text NOT NULL,
    city        text NOT NULL,
    state       char(2) NOT NULL,
    phone       text NOT NULL DEFAULT '',                -- '' when unknown
    opened_on   date,
    created_at  timestamp NOT NULL
);

CREATE TABLE users (
    id                   serial PRIMARY KEY,
    email                text NOT NULL,                  -- mixed case, as typed at sign-up
    first_name           text NOT NULL,
    last_name            text NOT NULL,
    phone                text NOT NULL DEFAULT '',
    status               smallint NOT NULL,              -- 1 active, 2 suspended, 3 pending
    office_id            integer,                        -- → offices (not declared)
    referred_by_user_id  integer,                        -- → users (self; not declared)
    is_admin             char(1) NOT NULL DEFAULT 'N',   -- 'Y' / 'N'
    password_hash        text,                           -- not carried to V2
    preferences          text NOT NULL DEFAULT '{}',     -- JSON kept as text
    created_at           timestamp NOT NULL,
    last_login_at        timestamptz
);

-- Users moved out of `users` when archived (their ids are never reused, so they are disjoint from users.id).
CREATE TABLE archived_users (
    id              integer PRIMARY KEY,
    email           text NOT NULL,
    first_name      text NOT NULL,
    last_name       text NOT NULL,
    phone           text NOT NULL DEFAULT '',
    created_at      timestamp NOT NULL,
    archived_at     timestamp NOT NULL,
    archive_reason  text
);

CREATE TABLE teams (
    id             serial PRIMARY KEY,
    office_id      integer,                              -- → offices (not declared)
    lead_agent_id  integer,                              -- → agents (not declared; teams ↔ agents cycle)
    name           text NOT NULL,                        -- sometimes padded with blanks
    created_at     timestamp NOT NULL
);

CREATE TABLE agents (
    id                  serial PRIMARY KEY,
    user_id             integer NOT NULL,                -- → users (declared)
    team_id             integer,                         -- → teams (not declared)
    mentor_agent_id     integer,                         -- → agents (self; not declared)
    license_number      text NOT NULL,
    license_state       char(2) NOT NULL,
    license_expires_on  date,
    commission_split    numeric(5, 2) NOT NULL,          -- agent's share, percent
    status              smallint NOT NULL,               -- 1 active, 2 inactive, 3 on_leave
    hired_on            date NOT NULL,
    created_at          timestamp NOT NULL
);

CREATE TABLE customers (
    id                    serial PRIMARY KEY,
    first_name            text NOT NULL,
    last_name             text NOT NULL,
    email                 text,
    phone                 text NOT NULL DEFAULT '',
    segment               smallint NOT NULL,             -- 1 buyer, 2 seller, 3 investor, 4 renter
    assigned_agent_id     integer,                       -- → agents (not declared)
    external_ref          uuid NOT NULL,
    lifetime_value_cents  bigint NOT NULL DEFAULT 0,
    do_not_contact        char(1) NOT NULL DEFAULT 'N',  -- 'Y' / 'N'
    created_at            timestamp NOT NULL
);

CREATE TABLE customer_metadata (
    id           serial PRIMARY KEY,
    customer_id  integer NOT NULL,                       -- → customers (not declared)
    source       text NOT NULL,
    data         text NOT NULL,                          -- JSON kept as text
    updated_at   timestamp NOT NULL
);

CREATE TABLE listings (
    id                serial PRIMARY KEY,
    office_id         integer,                           -- → offices (not declared)
    agent_id          integer,                           -- → agents (not declared)
    mls_number        text NOT NULL,
    address_line      text NOT NULL,
    city              text NOT NULL,
    state             char(2) NOT NULL,
    zip               varchar(10) NOT NULL,
    property_type     text NOT NULL,
    list_price_cents  bigint NOT NULL,
    status            smallint NOT NULL,                 -- 1 active, 2 pending, 3 sold, 4 withdrawn, 5 expired
    bedrooms          smallint NOT NULL,
    bathrooms         numeric(3, 1) NOT NULL,
    sqft              integer NOT NULL,
    featured          smallint NOT NULL DEFAULT 0,       -- 0 / 1
    features          text[] NOT NULL DEFAULT '{}',
    listed_at         timestamp NOT NULL,
    off_market_at     timestamp
);

CREATE TABLE listing_photos (
    id           serial PRIMARY KEY,
    listing_id   integer NOT NULL,                       -- → listings (declared, ON DELETE CASCADE)
    url          text NOT NULL,
    position     smallint NOT NULL,
    width        integer NOT NULL,
    height       integer NOT NULL,
    sha256       bytea NOT NULL,
    uploaded_at  timestamptz NOT NULL
);

CREATE TABLE showings (
    id                serial PRIMARY KEY,
    listing_id        integer,                           -- → listings (not declared)
    customer_id       integer,                           -- → customers (not declared)
    agent_id          integer,                           -- → agents (not declared)
    scheduled_at      timestamp NOT NULL,
    duration_minutes  smallint NOT NULL,
    status            smallint NOT NULL,                 -- 1 scheduled, 2 completed, 3 cancelled, 4 no_show
    feedback          text NOT NULL DEFAULT '',
    rating            smallint
);

CREATE TABLE offers (
    id             serial PRIMARY KEY,
    listing_id     integer,                              -- → listings (not declared)
    customer_id    integer,                              -- → customers (not declared)
    showing_id     integer,                              -- → showings (not declared)
    amount_cents   bigint NOT NULL,
    status         smallint NOT NULL,                    -- 1 submitted, 2 countered, 3 accepted, 4 rejected, 5 withdrawn
    contingencies  text[] NOT NULL DEFAULT '{}',
    submitted_at   timestamp NOT NULL,
    expires_at     timestamp NOT NULL
);

CREATE TABLE transactions (
    id                 serial PRIMARY KEY,
    listing_id         integer,                          -- → listings (not declared)
    offer_id           integer,                          -- → offers (not declared)
    buyer_customer_id  integer,                          -- → customers (not declared)
    sale_price_cents   bigint NOT NULL,
    closing_costs      numeric(12, 2) NOT NULL,
    status             smallint NOT NULL,                -- 1 open, 2 closed, 3 cancelled
    escrow_ref         uuid NOT NULL,
    created_at         timestamp NOT NULL,
    closed_at          timestamp
);

CREATE TABLE transaction_parties (
    id              serial PRIMARY KEY,
    transaction_id  integer NOT NULL,                    -- → transactions (declared)
    agent_id        integer,                             -- → agents (not declared)
    role            smallint NOT NULL,                   -- 1 buyer_agent, 2 seller_agent, 3 coordinator, 4 attorney
    name            text NOT NULL,
    share_pct       numeric(5, 2) NOT NULL
);

CREATE TABLE commissions (
    id              serial PRIMARY KEY,
    transaction_id  integer NOT NULL,                    -- → transactions (declared)
    agent_id        integer,                             -- → agents (not declared)
    amount_cents    bigint NOT NULL,
    rate            numeric(6, 4) NOT NULL,
    is_paid         char(1) NOT NULL DEFAULT 'N',        -- 'Y' / 'N'
    paid_at         timestamptz
);

CREATE TABLE transaction_logs (
    id              bigserial PRIMARY KEY,
    transaction_id  integer NOT NULL,                    -- → transactions (not declared)
    user_id         integer NOT NULL,                    -- → users (not declared)
    event           text NOT NULL,
    details         jsonb NOT NULL,
    logged_at       timestamptz NOT NULL
);

CREATE TABLE audit_logs (
    id           bigserial PRIMARY KEY,
    user_id      integer NOT NULL,                       -- → users (not declared)
    entity_type  text NOT NULL,
    entity_id    bigint NOT NULL,
    action       smallint NOT NULL,                      -- 1 create, 2 update, 3 delete, 4 login, 5 export
    changes      text NOT NULL,                          -- JSON kept as text
    ip_address   text NOT NULL,
    created_at   timestamp NOT NULL
);

CREATE TABLE documents (
    id              serial PRIMARY KEY,
    transaction_id  integer,                             -- → transactions (not declared)
    doc_uuid        uuid NOT NULL,
    filename        text NOT NULL,
    content_type    text NOT NULL,
    size_bytes      bigint NOT NULL,
    sha256          bytea NOT NULL,
    tags            text[] NOT NULL DEFAULT '{}',
    uploaded_at     timestamptz NOT NULL
);

CREATE TABLE notes (
    id              serial PRIMARY KEY,
    author_user_id  integer,                             -- → users (not declared)
    subject_type    text NOT NULL,                       -- polymorphic: 'customer', 'listing', 'transaction'
    subject_id      bigint NOT NULL,
    body            text NOT NULL,
    is_deleted      char(1) NOT NULL DEFAULT 'N',        -- soft delete, 'Y' / 'N'
    created_at      timestamp NOT NULL
);

-- replicator:post-data

-- The five declared relationships (the ones without orphans).
ALTER TABLE offices ADD CONSTRAINT offices_network_id_fkey
    FOREIGN KEY (network_id) REFERENCES networks (id);
ALTER TABLE agents ADD CONSTRAINT agents_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id);
ALTER TABLE listing_photos ADD CONSTRAINT listing_photos_listing_id_fkey
    FOREIGN KEY (listing_id) REFERENCES listings (id) ON DELETE CASCADE;
ALTER TABLE transaction_parties ADD CONSTRAINT transaction_parties_transaction_id_fkey
    FOREIGN KEY (transaction_id) REFERENCES transactions (id) ON DELETE CASCADE;
ALTER TABLE commissions ADD CONSTRAINT commissions_transaction_id_fkey
    FOREIGN KEY (transaction_id) REFERENCES transactions (id);

-- What the legacy application indexed.
CREATE INDEX listing_photos_listing_id_idx ON listing_photos (listing_id);
CREATE INDEX showings_listing_id_idx ON showings (listing_id);
CREATE INDEX offers_listing_id_idx ON offers (listing_id);
CREATE INDEX transaction_logs_transaction_id_idx ON transaction_logs (transaction_id);
CREATE INDEX audit_logs_entity_idx ON audit_logs (entity_type, entity_id);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Sequences continue after the highest id ever issued (archived users took their ids from users').
SELECT setval(pg_get_serial_sequence('networks', 'id'), coalesce(max(id), 0) + 1, false) FROM networks;
SELECT setval(pg_get_serial_sequence('offices', 'id'), coalesce(max(id), 0) + 1, false) FROM offices;
SELECT setval(pg_get_serial_sequence('users', 'id'),
              coalesce(greatest((SELECT max(id) FROM users), (SELECT max(id) FROM archived_users)), 0) + 1,
              false);
SELECT setval(pg_get_serial_sequence('teams', 'id'), coalesce(max(id), 0) + 1, false) FROM teams;
SELECT setval(pg_get_serial_sequence('agents', 'id'), coalesce(max(id), 0) + 1, false) FROM agents;
SELECT setval(pg_get_serial_sequence('customers', 'id'), coalesce(max(id), 0) + 1, false) FROM customers;
SELECT setval(pg_get_serial_sequence('customer_metadata', 'id'), coalesce(max(id), 0) + 1, false)
    FROM customer_metadata;
SELECT setval(pg_get_serial_sequence('listings', 'id'), coalesce(max(id), 0) + 1, false) FROM listings;
SELECT setval(pg_get_serial_sequence('listing_photos', 'id'), coalesce(max(id), 0) + 1, false)
    FROM listing_photos;
SELECT setval(pg_get_serial_sequence('showings', 'id'), coalesce(max(id), 0) + 1, false) FROM showings;
SELECT setval(pg_get_serial_sequence('offers', 'id'), coalesce(max(id), 0) + 1, false) FROM offers;
SELECT setval(pg_get_serial_sequence('transactions', 'id'), coalesce(max(id), 0) + 1, false) FROM transactions;
SELECT setval(pg_get_serial_sequence('transaction_parties', 'id'), coalesce(max(id), 0) + 1, false)
    FROM transaction_parties;
SELECT setval(pg_get_serial_sequence('commissions', 'id'), coalesce(max(id), 0) + 1, false) FROM commissions;
SELECT setval(pg_get_serial_sequence('transaction_logs', 'id'), coalesce(max(id), 0) + 1, false)
    FROM transaction_logs;
SELECT setval(pg_get_serial_sequence('audit_logs', 'id'), coalesce(max(id), 0) + 1, false) FROM audit_logs;
SELECT setval(pg_get_serial_sequence('documents', 'id'), coalesce(max(id), 0) + 1, false) FROM documents;
SELECT setval(pg_get_serial_sequence('notes', 'id'), coalesce(max(id), 0) + 1, false) FROM notes;
