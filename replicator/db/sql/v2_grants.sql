-- Rights of the V2 writer: DML on the application schema and on its own state schema. No DDL.
-- {role} is substituted as a quoted identifier by replicator/db/bootstrap.py.
CREATE SCHEMA IF NOT EXISTS replicator;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public, replicator TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public, replicator TO {role};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public, replicator TO {role};
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role};
ALTER DEFAULT PRIVILEGES IN SCHEMA replicator GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role};
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role};
ALTER DEFAULT PRIVILEGES IN SCHEMA replicator GRANT USAGE, SELECT ON SEQUENCES TO {role};
